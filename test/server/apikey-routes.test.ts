// `/v1/apikeys`: an admin lists, issues and revokes machine API keys over REST; everyone else is refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { Elysia } from "elysia";
import { issueToken, type Role } from "../../app/auth/principal";
import { authenticateRequest } from "../../app/auth/request-auth";
import { loadSigningKey } from "../../app/auth/signing-key";
import { apiKeyRoutes } from "../../app/server/apikey-routes";
import { ApiKeyStore, type ApiKeyInfo } from "../../app/store/api-keys";
import { openDatabase } from "../../app/store/database";
import { removeDir, tempDir } from "../helpers/server";

const BASE = "http://hub.local:5001";
let dir: string;
let db: Database;
let keys: ApiKeyStore;
let app: { handle: (r: Request) => Promise<Response> };
let signingKey: Uint8Array;
const revoked: ApiKeyInfo[] = [];

beforeAll(() => {
  dir = tempDir();
  db = openDatabase(dir);
  keys = new ApiKeyStore(db);
  signingKey = loadSigningKey(dir);
  app = new Elysia().use(
    apiKeyRoutes({
      keys,
      authenticate: (request) => authenticateRequest(request, signingKey, ["https://dash.example.org"]),
      revoked: (info) => revoked.push(info),
    }),
  );
});
afterAll(() => {
  db.close();
  removeDir(dir);
});

const token = (role: Role, sub = `${role}-1`) => issueToken(signingKey, { sub, role, ttlSec: 3600 });
const bearer = (role: Role) => ({ authorization: `Bearer ${token(role)}` });
const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
  app.handle(
    new Request(`${BASE}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

describe("/v1/apikeys", () => {
  test("an admin issues a key (shown once), lists it without the key, and revokes it", async () => {
    const created = await call("POST", "/v1/apikeys", bearer("admin"), { name: "ci-bot" });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const body = (await created.json()) as ApiKeyInfo & { key: string };
    expect(Object.keys(body).sort()).toEqual(["created_at", "id", "key", "name", "revoked_at"]);
    expect(body).toMatchObject({ name: "ci-bot", revoked_at: null });
    expect(body.key).toMatch(new RegExp(`^sk_${body.id}_[A-Za-z0-9_-]{43}$`));
    expect(created.headers.get("location")).toBe(`/v1/apikeys/${body.id}`);
    expect(keys.verify(body.key)?.name).toBe("ci-bot");

    const listed = await call("GET", "/v1/apikeys", bearer("admin"));
    expect(listed.status).toBe(200);
    const text = await listed.text();
    expect(text).not.toContain(body.key.slice(12));
    const info = { id: body.id, name: "ci-bot", created_at: body.created_at, revoked_at: null };
    expect(JSON.parse(text)).toEqual({ keys: [info] });

    const deleted = await call("DELETE", `/v1/apikeys/${body.id}`, bearer("admin"));
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe("");
    expect(revoked).toEqual([{ ...info, revoked_at: expect.any(Number) }]);
    expect(keys.verify(body.key)).toBeNull();
    const after = (await (await call("GET", "/v1/apikeys", bearer("admin"))).json()) as { keys: ApiKeyInfo[] };
    expect(after.keys[0]!.revoked_at).toBe(revoked[0]!.revoked_at);

    // Gone already, never existed, or not an id: 404, and nothing is reported revoked.
    for (const id of [body.id, "0badc0de", "ci-bot", "x"]) {
      const res = await call("DELETE", `/v1/apikeys/${id}`, bearer("admin"));
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("not_found");
    }
    expect(revoked).toHaveLength(1);
  });

  test("DELETE is by id: a key whose name looks like another key's id is not revoked by that id", async () => {
    const target = keys.issue("target");
    const decoy = keys.issue(target.id);
    const before = revoked.length;
    expect((await call("DELETE", `/v1/apikeys/${target.id}`, bearer("admin"))).status).toBe(204);
    expect(revoked.slice(before).map((k) => k.id)).toEqual([target.id]);
    expect(keys.isLive(decoy.id)).toBe(true);
    // With the target gone, its id matches only the decoy's name: still 404 over REST.
    expect((await call("DELETE", `/v1/apikeys/${target.id}`, bearer("admin"))).status).toBe(404);
    expect(keys.isLive(decoy.id)).toBe(true);
  });

  test("a name in use is 409; a bad body is 400 (strict)", async () => {
    expect((await call("POST", "/v1/apikeys", bearer("admin"), { name: "dup" })).status).toBe(201);
    const dup = await call("POST", "/v1/apikeys", bearer("admin"), { name: "dup" });
    expect(dup.status).toBe(409);
    expect(await errorOf(dup)).toMatchObject({ code: "conflict", message: expect.stringContaining("dup") });
    for (const bad of [{}, { name: "" }, { name: "a b" }, { name: "x".repeat(101) }, { name: "ok", role: "admin" }, "not json", [1]]) {
      const res = await call("POST", "/v1/apikeys", bearer("admin"), bad);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid");
    }
  });

  test("without credentials 401; any role but admin 403; a bad token 401", async () => {
    const live = keys.issue("guarded");
    for (const [method, path, body] of [
      ["GET", "/v1/apikeys", undefined],
      ["POST", "/v1/apikeys", { name: "sneaky" }],
      ["DELETE", `/v1/apikeys/${live.id}`, undefined],
    ] as const) {
      const none = await call(method, path, {}, body);
      expect(none.status).toBe(401);
      expect((await errorOf(none)).code).toBe("forbidden");
      expect((await call(method, path, { authorization: "Bearer nonsense" }, body)).status).toBe(401);
      for (const role of ["viewer", "operator", "owner", "skynode"] as const) {
        const headers = role === "skynode" ? { authorization: `Bearer ${issueToken(signingKey, { sub: "n", role, telescopes: ["sim-1"] })}` } : bearer(role);
        const res = await call(method, path, headers, body);
        expect(res.status).toBe(403);
        expect(await errorOf(res)).toEqual({ code: "forbidden", message: "only an admin may manage API keys" });
      }
    }
    expect(keys.isLive(live.id)).toBe(true);
    expect(keys.list().some((k) => k.name === "sneaky")).toBe(false);
  });

  test("an admin's session cookie works from an allowed Origin only (writes); ?token= works too", async () => {
    const cookie = `skynet_session=${token("admin", "ada")}`;
    const fromEvil = await call("POST", "/v1/apikeys", { cookie, origin: "https://evil.example.com" }, { name: "csrf" });
    expect(fromEvil.status).toBe(403);
    expect((await call("POST", "/v1/apikeys", { cookie }, { name: "csrf" })).status).toBe(403);
    const victim = keys.issue("victim");
    expect((await call("DELETE", `/v1/apikeys/${victim.id}`, { cookie, origin: "https://evil.example.com" })).status).toBe(403);
    expect(keys.isLive(victim.id)).toBe(true);
    expect(keys.list().some((k) => k.name === "csrf")).toBe(false);

    expect((await call("POST", "/v1/apikeys", { cookie, origin: BASE, host: "hub.local:5001" }, { name: "same-origin" })).status).toBe(201);
    expect((await call("POST", "/v1/apikeys", { cookie, origin: "https://dash.example.org" }, { name: "allowed-origin" })).status).toBe(201);
    // A plain read (no Origin) on the cookie alone is allowed, as for the other routes.
    expect((await call("GET", "/v1/apikeys", { cookie })).status).toBe(200);
    expect((await app.handle(new Request(`${BASE}/v1/apikeys?token=${token("admin")}`))).status).toBe(200);
  });
});
