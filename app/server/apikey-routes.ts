import { Elysia } from "elysia";
import { z } from "zod";
import type { Authenticate } from "../auth/request-auth";
import { ApiKeyError, ApiKeyName, type ApiKeyInfo, type ApiKeyStore } from "../store/api-keys";

export interface ApiKeyRoutesOptions {
  keys: ApiKeyStore;
  authenticate: Authenticate;
  /** A key was revoked here: close what it holds open. */
  revoked: (info: ApiKeyInfo) => void;
}

const NewApiKey = z.strictObject({ name: ApiKeyName });
const KEY_ID = /^[0-9a-f]{8}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** An admin's management of machine API keys (`/v1/apikeys`): list, issue (the key is in that answer only), revoke.
 * Errors: `{"error":{"code","message"}}`. A session cookie must come from an allowed Origin (authenticate checks). */
export function apiKeyRoutes(opts: ApiKeyRoutesOptions) {
  const { keys } = opts;
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  const admin = (request: Request) => {
    const outcome = opts.authenticate(request);
    if (!outcome.ok) throw new HttpError(outcome.status, "forbidden", outcome.reason);
    if (outcome.principal.role !== "admin") throw new HttpError(403, "forbidden", "only an admin may manage API keys");
    return outcome.principal;
  };
  const parse = async <T>(schema: z.ZodType<T>, request: Request): Promise<T> => {
    let raw: unknown;
    try {
      raw = await request.json();
    } catch {
      throw new HttpError(400, "invalid", "the body is not valid JSON");
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new HttpError(400, "invalid", `${first?.path.join(".") || "body"}: ${first?.message}`, { issues: r.error.issues.slice(0, 20) });
    }
    return r.data;
  };
  const handle = (fn: (request: Request, params: Record<string, string>) => Promise<Response> | Response) => async ({ request, params }: { request: Request; params: Record<string, string> }) => {
    try {
      return await fn(request, params);
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      if (err instanceof ApiKeyError) return json(err.code === "conflict" ? 409 : 400, { error: { code: err.code, message: err.message } });
      return json(500, { error: { code: "internal", message: (err as Error).message } });
    }
  };

  return new Elysia()
    .get("/v1/apikeys", handle((request) => (admin(request), json(200, { keys: keys.list() }))))
    .post(
      "/v1/apikeys",
      handle(async (request) => {
        admin(request);
        const body = await parse(NewApiKey, request);
        const issued = keys.issue(body.name);
        const { id, name, key, created_at, revoked_at } = issued;
        return json(201, { id, name, key, created_at, revoked_at }, { location: `/v1/apikeys/${id}`, "cache-control": "no-store" });
      }),
    )
    .delete(
      "/v1/apikeys/:id",
      handle((request, params) => {
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
