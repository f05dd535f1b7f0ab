import { Elysia } from "elysia";
import { z } from "zod";
import type { Authenticate } from "../auth/request-auth";
import { ApiKeyError, ApiKeyName, type ApiKeyInfo, type ApiKeyStore } from "../store/api-keys";
import { handle, HttpError, json, parseBody, requirePrincipal } from "./rest";

export interface ApiKeyRoutesOptions {
  keys: ApiKeyStore;
  authenticate: Authenticate;
  /** A key was revoked here: close what it holds open. */
  revoked: (info: ApiKeyInfo) => void;
}

const NewApiKey = z.strictObject({ name: ApiKeyName });
const KEY_ID = /^[0-9a-f]{8}$/;

/** An admin's management of machine API keys (`/v1/apikeys`): list, issue (the key is in that answer only), revoke.
 * Errors: `{"error":{"code","message"}}`. A session cookie must come from an allowed Origin (authenticate checks). */
export function apiKeyRoutes(opts: ApiKeyRoutesOptions) {
  const { keys } = opts;
  const admin = (request: Request) => requirePrincipal(opts.authenticate, request, "manage API keys");
  const handled = (fn: Parameters<typeof handle>[0]) =>
    handle(fn, (err) => (err instanceof ApiKeyError ? json(err.code === "conflict" ? 409 : 400, { error: { code: err.code, message: err.message } }) : undefined));

  return new Elysia()
    .get("/v1/apikeys", handled((request) => (admin(request), json(200, { keys: keys.list() }))))
    .post(
      "/v1/apikeys",
      handled(async (request) => {
        admin(request);
        const body = await parseBody(NewApiKey, request);
        const issued = keys.issue(body.name);
        const { id, name, key, created_at, revoked_at } = issued;
        return json(201, { id, name, key, created_at, revoked_at }, { location: `/v1/apikeys/${id}`, "cache-control": "no-store" });
      }),
    )
    .delete(
      "/v1/apikeys/:id",
      handled((request, params) => {
        admin(request);
        const id = params.id!;
        // By id only (names are for the CLI): a name that looks like an id must not revoke another key.
        const info = KEY_ID.test(id) && keys.isLive(id) ? keys.revoke(id) : null;
        if (!info) throw new HttpError(404, "not_found", `no live API key ${id}`);
        opts.revoked(info);
        return json(204, null);
      }),
    );
}
