import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signJwt, verifyJwt } from "../../app/auth/jwt";
import { issueToken, parseTtl, principalFromToken } from "../../app/auth/principal";
import { startServer, type TestServer } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";

const key = new Uint8Array(32).fill(7);

describe("tokens", () => {
  test("a signed token verifies; tampering, another key, or expiry fail", () => {
    const token = issueToken(key, { sub: "alice", role: "operator", ttlSec: 60 });
    expect(principalFromToken(token, key)).toEqual({
      sub: "alice",
      role: "operator",
      telescopes: null,
      tokenId: expect.any(String),
      expiresAt: expect.any(Number),
    });
    const [h, b, s] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(b!, "base64url").toString()), role: "admin" })).toString("base64url");
    expect(principalFromToken(`${h}.${forged}.${s}`, key)).toBeNull();
    expect(principalFromToken(token, new Uint8Array(32).fill(8))).toBeNull();
    const expired = signJwt({ sub: "a", role: "viewer", iat: 1, exp: 2 }, key);
    expect(verifyJwt(expired, key)).toBeNull();
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${b}.`;
    expect(principalFromToken(none, key)).toBeNull();
    // Another issuer's header field order is fine as long as it is HS256 with our key.
    const otherHeader = Buffer.from('{"typ":"JWT","alg":"HS256"}').toString("base64url");
    const { createHmac } = require("node:crypto");
    const sig = createHmac("sha256", key).update(`${otherHeader}.${b}`).digest("base64url");
    expect(principalFromToken(`${otherHeader}.${b}.${sig}`, key)?.sub).toBe("alice");
  });

  test("a skynode token names exactly one telescope", () => {
    expect(() => issueToken(key, { sub: "n", role: "skynode" })).toThrow(/exactly one telescope/);
    expect(() => issueToken(key, { sub: "n", role: "skynode", telescopes: ["a", "b"] })).toThrow();
    const p = principalFromToken(issueToken(key, { sub: "n", role: "skynode", telescopes: ["t1"] }), key);
    expect([...p!.telescopes!]).toEqual(["t1"]);
    expect(principalFromToken(signJwt({ sub: "n", role: "skynode", iat: 1 }, key), key)).toBeNull();
  });

  test("ttl parsing", () => {
    expect(parseTtl("1h")).toBe(3600);
    expect(parseTtl("30m")).toBe(1800);
    expect(parseTtl("7d")).toBe(604800);
    expect(parseTtl("45")).toBe(45);
    expect(() => parseTtl("soon")).toThrow();
  });
});

describe("upgrade authentication", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ config: `[server]\nallowed_origins = ["https://dash.example.org"]\n` });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  const upgrade = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.http}${path}`, {
      headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers },
    });

  for (const path of ["/v1/ws/stream", "/v1/ws/commands"]) {
    test(`${path}: missing or invalid token is refused with 401 at the upgrade`, async () => {
      expect((await upgrade(path)).status).toBe(401);
      expect((await upgrade(`${path}?token=not.a.token`)).status).toBe(401);
      expect((await upgrade(path, { authorization: "Bearer nope" })).status).toBe(401);
      const otherKey = issueToken(new Uint8Array(32), { sub: "eve", role: "admin" });
      expect((await upgrade(`${path}?token=${otherKey}`)).status).toBe(401);
      const expired = issueToken(new Uint8Array(32), { sub: "eve", role: "admin" });
      expect((await upgrade(path, { cookie: `skynet_session=${expired}`, origin: server.http })).status).toBe(401);
      await expect(TestClient.connect(`${server.ws}${path}`)).rejects.toThrow();
    });
  }

  test("query token, Bearer header and session cookie are all accepted", async () => {
    const token = server.token("vera", "viewer");
    const viaQuery = await TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`);
    expect(await viaQuery.request({ kind: "ping", id: "q" })).toEqual({ kind: "pong", id: "q" });
    const viaHeader = await TestClient.connect(`${server.ws}/v1/ws/stream`, { headers: { authorization: `Bearer ${token}` } });
    expect(await viaHeader.request({ kind: "ping", id: "h" })).toEqual({ kind: "pong", id: "h" });
    const viaCookie = await TestClient.connect(`${server.ws}/v1/ws/commands`, {
      headers: { cookie: `skynet_session=${token}`, origin: server.http },
    });
    expect(await viaCookie.request({ kind: "ping", id: "c" })).toEqual({ kind: "pong", id: "c" });
    for (const c of [viaQuery, viaHeader, viaCookie]) c.close();
  });

  test("a cookie upgrade must come from the served host or an allowed origin", async () => {
    const cookie = `skynet_session=${server.token("vera", "viewer")}`;
    expect((await upgrade("/v1/ws/stream", { cookie })).status).toBe(403);
    expect((await upgrade("/v1/ws/stream", { cookie, origin: "https://evil.example.com" })).status).toBe(403);
    expect((await upgrade("/v1/ws/stream", { cookie, origin: `http://127.0.0.1:${server.port + 1}` })).status).toBe(403);
    const allowed = await TestClient.connect(`${server.ws}/v1/ws/stream`, { headers: { cookie, origin: "https://dash.example.org" } });
    expect(await allowed.request({ kind: "ping", id: "ok" })).toEqual({ kind: "pong", id: "ok" });
    allowed.close();
  });

  test("GET /healthz answers 200 with JSON status", async () => {
    const res = await fetch(`${server.http}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", role: "appliance", telescope_uid: "sim-1" });
  });
});
