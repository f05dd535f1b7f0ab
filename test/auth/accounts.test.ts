// Accounts for the web UI: first-boot setup with the one-time code, password sign-in setting the session cookie
// (which then opens the WebSocket endpoints like any token), sign-out, guessing slowed down, and admin management.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type TestServer } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";
import { cookieOf, sessionRequests } from "../helpers/sessions";

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ args: ["--role", "hub"] });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const { post, as } = sessionRequests(() => server);

describe("accounts", () => {
  test("first boot: setup needs the one-time code, creates the admin once, signs them in, and spends the code", async () => {
    expect(await (await fetch(`${server.http}/v1/auth/status`)).json()).toEqual({ setup_required: true });
    const codeFile = join(server.dataDir, "setup-code");
    const code = readFileSync(codeFile, "utf8").trim();
    expect(code).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);

    const wrong = await post("/v1/auth/setup", { setup_code: "AAAAA-AAAAA", name: "ada", password: "correct horse" });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as any).error.code).toBe("forbidden");
    expect((await post("/v1/auth/setup", { setup_code: code, name: "ada", password: "short" })).status).toBe(400);
    // From another site: refused before anything is looked at.
    expect((await post("/v1/auth/setup", { setup_code: code, name: "eve", password: "correct horse" }, { origin: "https://evil.example.com" })).status).toBe(403);

    const ok = await post("/v1/auth/setup", { setup_code: code.toLowerCase(), name: "ada", password: "correct horse" });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ name: "ada", role: "admin" });
    const setCookie = ok.headers.get("set-cookie")!;
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/");
    const me = await fetch(`${server.http}/v1/auth/me`, { headers: as(cookieOf(ok)) });
    expect(await me.json()).toEqual({ name: "ada", role: "admin", telescopes: null, account: true });

    expect(existsSync(codeFile)).toBe(false);
    expect((await post("/v1/auth/setup", { setup_code: code, name: "mallory", password: "correct horse" })).status).toBe(409);
    expect(await (await fetch(`${server.http}/v1/auth/status`)).json()).toEqual({ setup_required: false });
  });

  test("sign-in sets a cookie that opens the WebSocket endpoints with the account's role; sign-out clears it", async () => {
    const bad = await post("/v1/auth/login", { name: "ada", password: "wrong horse" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();
    const nobody = await post("/v1/auth/login", { name: "nobody", password: "wrong horse" });
    expect(nobody.status).toBe(401);
    // A name that does not exist is told apart from a wrong password by nothing.
    const refusal = { error: { code: "forbidden", message: "wrong name or password" } };
    expect(await nobody.json()).toEqual(refusal);
    expect(await bad.json()).toEqual(refusal);

    const res = await post("/v1/auth/login", { name: "ada", password: "correct horse" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ name: "ada", role: "admin" });
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now() + 11 * 3600_000);
    const ws = await TestClient.connect(`${server.ws}/v1/ws/stream`, { headers: as(cookieOf(res)) });
    expect(await ws.request({ kind: "ping", id: "p" })).toEqual({ kind: "pong", id: "p" });
    ws.close();

    const out = await post("/v1/auth/logout", {}, as(cookieOf(res)));
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
  });

  test("five wrong passwords lock the name for a while (429), even for the right password", async () => {
    const token = await signIn("ada", "correct horse");
    expect((await post("/v1/users", { name: "gus", role: "viewer", password: "gus password" }, as(token))).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await post("/v1/auth/login", { name: "gus", password: `guess ${i}` })).status).toBe(401);
    const locked = await post("/v1/auth/login", { name: "gus", password: "gus password" });
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as any).error.message).toContain("try again in");
    // Other names are not locked with it.
    expect((await post("/v1/auth/login", { name: "ada", password: "correct horse" })).status).toBe(200);
  });

  test("an admin manages accounts; others may not; the last admin cannot be removed or demoted", async () => {
    const admin = await signIn("ada", "correct horse");
    const created = await post("/v1/users", { name: "olga", role: "operator", password: "olga password", telescopes: ["sim-1"] }, as(admin));
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: "olga", role: "operator", telescopes: ["sim-1"] });
    expect((await post("/v1/users", { name: "olga", role: "viewer", password: "another one" }, as(admin))).status).toBe(409);
    expect((await post("/v1/users", { name: "bad name!", role: "viewer", password: "another one" }, as(admin))).status).toBe(400);

    const olga = await signIn("olga", "olga password");
    expect(await (await fetch(`${server.http}/v1/auth/me`, { headers: as(olga) })).json()).toEqual({ name: "olga", role: "operator", telescopes: ["sim-1"], account: true });
    expect((await fetch(`${server.http}/v1/users`, { headers: as(olga) })).status).toBe(403);
    expect((await post("/v1/users", { name: "x", role: "admin", password: "12345678" }, as(olga))).status).toBe(403);

    const list = (await (await fetch(`${server.http}/v1/users`, { headers: as(admin) })).json()) as any;
    expect(list.users.map((u: { name: string }) => u.name)).toEqual(["ada", "gus", "olga"]);
    expect(JSON.stringify(list)).not.toContain("password");

    const patch = (name: string, body: unknown) => fetch(`${server.http}/v1/users/${name}`, { method: "PATCH", headers: { ...as(admin), "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await patch("ada", { role: "owner" })).status).toBe(409);
    expect((await fetch(`${server.http}/v1/users/ada`, { method: "DELETE", headers: as(admin) })).status).toBe(409);
    expect(await (await patch("olga", { role: "owner", password: "new olga password" })).json()).toMatchObject({ role: "owner" });
    expect((await post("/v1/auth/login", { name: "olga", password: "olga password" })).status).toBe(401);
    expect((await post("/v1/auth/login", { name: "olga", password: "new olga password" })).status).toBe(200);

    // Everyone may change their own password, knowing the current one (olga signs in again: the admin's change
    // ended her earlier session).
    expect(await (await fetch(`${server.http}/v1/auth/me`, { headers: as(olga) })).status).toBe(401);
    const olgaAgain = await signIn("olga", "new olga password");
    expect((await post("/v1/auth/password", { current_password: "nope", new_password: "newer olga password" }, as(olgaAgain))).status).toBe(403);
    expect((await post("/v1/auth/password", { current_password: "new olga password", new_password: "newer olga password" }, as(olgaAgain))).status).toBe(200);
    expect((await post("/v1/auth/login", { name: "olga", password: "newer olga password" })).status).toBe(200);

    expect((await fetch(`${server.http}/v1/users/olga`, { method: "DELETE", headers: as(admin) })).status).toBe(204);
    expect((await fetch(`${server.http}/v1/users/olga`, { method: "DELETE", headers: as(admin) })).status).toBe(404);
  });
});

async function signIn(name: string, password: string): Promise<string> {
  const res = await post("/v1/auth/login", { name, password });
  expect(res.status).toBe(200);
  return cookieOf(res);
}

describe("sign-in sessions end with the account as it was", () => {
  test("a role change, a password change or a deletion ends the account's sessions, open sockets included", async () => {
    const admin = await signIn("ada", "correct horse");
    expect((await post("/v1/users", { name: "sam", role: "operator", password: "sam password" }, as(admin))).status).toBe(201);
    const sam = await signIn("sam", "sam password");
    const me = (cookie: string) => fetch(`${server.http}/v1/auth/me`, { headers: as(cookie) }).then((r) => r.status);
    expect(await me(sam)).toBe(200);
    const ws = await TestClient.connect(`${server.ws}/v1/ws/commands`, { headers: as(sam) });

    // Demoted: the old session (carrying "operator") is over, and its socket is closed with the reason.
    const patch = await fetch(`${server.http}/v1/users/sam`, { method: "PATCH", headers: { ...as(admin), "content-type": "application/json" }, body: JSON.stringify({ role: "viewer" }) });
    expect(patch.status).toBe(200);
    expect(await ws.waitClosed()).toMatchObject({ code: 4003, reason: expect.stringContaining("session has ended") });
    expect(await me(sam)).toBe(401);
    const refused = await fetch(`${server.http}/v1/ws/commands`, { headers: { ...as(sam), upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(refused.status).toBe(401);

    // A password change: the other sessions end, the one that changed it gets a fresh cookie.
    const first = await signIn("sam", "sam password");
    const second = await signIn("sam", "sam password");
    const changed = await post("/v1/auth/password", { current_password: "sam password", new_password: "new sam password" }, as(first));
    expect(changed.status).toBe(200);
    expect(await me(cookieOf(changed))).toBe(200);
    expect(await me(second)).toBe(401);

    // Deleted: whatever session is left is over. CLI-issued tokens are not sessions and are unaffected.
    const last = cookieOf(changed);
    expect((await fetch(`${server.http}/v1/users/sam`, { method: "DELETE", headers: as(admin) })).status).toBe(204);
    expect(await me(last)).toBe(401);
    expect(await me(server.token("sam", "operator"))).toBe(200);
  });
});
