// The one WebSocket front end (app/ws), each finding of the hardening audit as a regression through the real server:
// a frame nested 100,000 deep on any endpoint (it killed the process on /v3), per-connection quotas (subscriptions,
// open direct requests, a paced since_seq replay), an account change or a sign-out closing the account's sockets on
// every endpoint, a token's expiry closing its sockets, /v3 client ids belonging to their account, and a flood of
// frames refused, then closed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { issueApiKey } from "../helpers/api-key";
import { startServer, type TestServer } from "../helpers/server";
import { upgradeRefusal } from "../helpers/upgrade";
import { TestClient, type Frame } from "../helpers/ws-client";
import { cookieOf, sessionRequests } from "../helpers/sessions";

let hub: TestServer;
let key: string;
const open: TestClient[] = [];

beforeAll(async () => {
  hub = await startServer({ args: ["--role", "hub"], config: "[server]\nmax_subscriptions = 4\nmax_open_direct_requests = 2\n" });
  key = await issueApiKey(hub.dataDir, "tests");
});
afterAll(async () => {
  for (const c of open) c.close();
  expect(await hub.stop()).toBe(0);
});

async function connect(url: string, headers?: Record<string, string>): Promise<TestClient> {
  const c = await TestClient.connect(url, headers ? { headers } : undefined);
  open.push(c);
  return c;
}
const stream = (token: string, srv = hub) => connect(`${srv.ws}/v1/ws/stream?token=${token}`);
const commands = (token: string, srv = hub) => connect(`${srv.ws}/v1/ws/commands?token=${token}`);
const topics = (token: string) => connect(`${hub.ws}/wss?token=${token}`);
const groupUrl = (group: string, client: string, jwt: string) => `${hub.ws}/v3/ws/group/${group}/client/${client}?api_key=${key}&jwt=${jwt}`;
async function member(group: string, client: string, jwt: string): Promise<TestClient> {
  const c = await connect(groupUrl(group, client, jwt));
  await c.next((f) => f.msg_type === "presence" && f.payload?.event === "snapshot");
  return c;
}
const healthy = async () => (await (await fetch(`${hub.http}/healthz`)).json()) as { status: string };

describe("hostile frames", () => {
  test("100,000 nested brackets on every endpoint are answered invalid in its own shape, and the process stays up", async () => {
    const deep = "[".repeat(100_000);
    const viewer = hub.token("vic", "viewer");
    const s = await stream(viewer);
    const c = await commands(viewer);
    const t = await topics(viewer);
    const g = await member("deep", "deep-1", hub.token("deep-1", "operator"));
    for (const client of [s, c, t]) {
      client.send(deep);
      expect(await client.kind("error")).toMatchObject({ code: "invalid", message: expect.stringContaining("deeper than 64") });
    }
    g.send(deep);
    expect(await g.next((f) => f.cmd === "ERROR")).toMatchObject({ target: "echo", payload: { code: "invalid" }, msg: expect.stringContaining("deeper than 64") });
    // Inside a valid message's free-form field, too (group-hub re-serialised it outside any guard).
    g.send(`{"msg_type":"msg","target":"group","payload":{"x":${"[".repeat(1000)}${"]".repeat(1000)}}}`);
    expect(await g.next((f) => f.cmd === "ERROR")).toMatchObject({ payload: { code: "invalid" } });
    expect((await healthy()).status).toBe("ok");
    // Every socket is still served.
    expect(await s.request({ kind: "ping", id: "after" })).toEqual({ kind: "pong", id: "after" });
    g.send({ msg_type: "msg", target: "echo", msg: "still here" });
    expect((await g.next((f) => f.msg === "still here")).from_id).toBe("deep-1");
  });
});

describe("quotas per connection", () => {
  test("subscriptions beyond [server] max_subscriptions are refused on both /v1 endpoints; resubscribing an id held is not", async () => {
    const token = hub.token("quota", "viewer");
    for (const [client, kind] of [
      [await stream(token), "subscribe_stream"],
      [await commands(token), "subscribe_commands"],
    ] as const) {
      for (let i = 0; i < 4; i++) expect(await client.request({ id: `s${i}`, kind, subscription_id: `s${i}` })).toMatchObject({ kind: "ack" });
      const refused = await client.request({ id: "s4", kind, subscription_id: "s4" });
      expect(refused).toMatchObject({ kind: "error", code: "invalid", details: { max_subscriptions: 4 } });
      expect(await client.request({ id: "s0", kind, subscription_id: "s0" })).toMatchObject({ kind: "ack" });
    }
  });

  test("direct requests beyond [server] max_open_direct_requests are refused while the others stay open", async () => {
    // A SkyNode that takes the requests and never answers: they stay open.
    const skynode = await commands(hub.token("node-q", "skynode", ["tel-q"]));
    await skynode.request({ kind: "ping", id: "up" });
    const user = await commands(hub.token("dana", "viewer"));
    for (const id of ["d1", "d2", "d3"]) user.send({ kind: "direct_request", request_id: id, telescope_uid: "tel-q", request_type: "image.list", payload: {} });
    expect(await user.next((f) => f.kind === "direct_error")).toMatchObject({ request_id: "d3", code: "conflict", details: { max_open_direct_requests: 2 } });
    const forwarded = [await skynode.kind("direct_request"), await skynode.kind("direct_request")];
    expect(forwarded).toHaveLength(2);
    // One of them ends: there is room for another.
    skynode.send({ kind: "direct_error", request_id: forwarded[0]!.request_id, code: "not_found", message: "nothing" });
    expect(await user.next((f) => f.kind === "direct_error" && f.request_id === "d1")).toMatchObject({ code: "not_found" });
    user.send({ kind: "direct_request", request_id: "d4", telescope_uid: "tel-q", request_type: "image.list", payload: {} });
    expect((await skynode.kind("direct_request")).request_id).toBeString();
  });

  test("a since_seq replay larger than a page arrives whole and in order, one at a time per connection, then goes live", async () => {
    const skynode = await commands(hub.token("node-r", "skynode", ["tel-r"]));
    // The SkyNode answers every command at once.
    skynode.socket.addEventListener("message", (e) => {
      const f = JSON.parse(e.data as string) as Frame;
      if (f.kind === "event_command") {
        skynode.send({ kind: "publish_command_result", telescope_uid: "tel-r", result: { command_id: f.command.command_id, status: "ok", data: {} } });
      }
    });
    await skynode.request({ kind: "ping", id: "up" });
    const owner = await commands(hub.token("olive", "owner"));
    await owner.request({ id: "watch", kind: "subscribe_commands", subscription_id: "watch", filter: { telescope_uid: "tel-r" } });
    const N = 300;
    for (let i = 0; i < N; i++) {
      owner.send({ kind: "publish_command", telescope_uid: "tel-r", command_id: `r${i}`, command: { command_type: "focuser.move_relative", delta_um: 1 } });
    }
    await owner.next((f) => f.kind === "event_command_result" && f.result.command_id === `r${N - 1}`, 20_000);
    const late = await commands(hub.token("lena", "viewer"));
    late.send({ id: "replay", kind: "subscribe_commands", subscription_id: "replay", since_seq: 0, filter: { telescope_uid: "tel-r" } });
    late.send({ id: "again", kind: "subscribe_commands", subscription_id: "again", since_seq: 0, filter: { telescope_uid: "tel-r" } });
    expect(await late.next((f) => f.id === "again")).toMatchObject({ kind: "error", code: "conflict" });
    const lastReplayed = await late.next((f) => f.subscription_id === "replay" && f.kind === "event_command_result" && f.result.command_id === `r${N - 1}`, 20_000);
    // Live after the replay: the next command follows with the next seq, nothing doubled.
    owner.send({ kind: "publish_command", telescope_uid: "tel-r", command_id: "live", command: { command_type: "focuser.move_relative", delta_um: 1 } });
    await late.next((f) => f.subscription_id === "replay" && f.kind === "event_command_result" && f.result.command_id === "live");
    const seqs = late.received.filter((f) => f.subscription_id === "replay").map((f) => f.seq as number);
    expect(seqs).toHaveLength(2 * N + 2);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.indexOf(lastReplayed.seq)).toBe(2 * N - 1);
  });
});

describe("who is connected", () => {
  const { post, as } = sessionRequests(() => hub);
  /** An admin's change to an account (PATCH, DELETE) with its session. */
  const change = (method: "PATCH" | "DELETE", path: string, cookie: string, body: unknown = {}) =>
    fetch(`${hub.http}${path}`, { method, headers: { "content-type": "application/json", ...as(cookie) }, body: JSON.stringify(body) });
  const signIn = async (name: string, password: string) => {
    const res = await post("/v1/auth/login", { name, password });
    expect(res.status).toBe(200);
    return cookieOf(res);
  };
  /** The account's sockets on all four endpoints, opened with its sign-in session (cookie, or the session as a jwt). */
  const everywhere = async (session: string, name: string) => {
    const headers = { cookie: `skynet_session=${session}`, origin: hub.http };
    const s = await connect(`${hub.ws}/v1/ws/stream`, headers);
    const c = await connect(`${hub.ws}/v1/ws/commands`, headers);
    const t = await connect(`${hub.ws}/wss`, headers);
    const g = await member("accounts", `${name}-client`, session);
    await Promise.all([s.request({ kind: "ping", id: "p" }), c.request({ kind: "ping", id: "p" })]);
    return [s, c, t, g];
  };
  let admin = "";

  beforeAll(async () => {
    const code = readFileSync(join(hub.dataDir, "setup-code"), "utf8").trim();
    const setup = await post("/v1/auth/setup", { setup_code: code, name: "ada", password: "correct horse" });
    expect(setup.status).toBe(201);
    admin = cookieOf(setup);
    for (const [name, role] of [["bea", "admin"], ["cal", "operator"], ["dot", "operator"]]) {
      expect((await post("/v1/users", { name, role, password: `${name} password` }, as(admin))).status).toBe(201);
    }
  });

  test("demoting an admin closes its sockets on every endpoint (4003), server_logs included", async () => {
    const bea = await signIn("bea", "bea password");
    const sockets = await everywhere(bea, "bea");
    const logs = sockets[2]!;
    expect(await logs.request({ id: "logs", action: "subscribe", topic: "server_logs" })).toMatchObject({ kind: "ack" });
    expect((await change("PATCH", "/v1/users/bea", admin, { role: "viewer" })).status).toBe(200);
    for (const s of sockets) expect((await s.waitClosed()).code).toBe(4003);
  });

  test("deleting an account closes its sockets on every endpoint (4003)", async () => {
    const cal = await signIn("cal", "cal password");
    const sockets = await everywhere(cal, "cal");
    expect((await change("DELETE", "/v1/users/cal", admin)).status).toBe(204);
    for (const s of sockets) expect((await s.waitClosed()).code).toBe(4003);
  });

  test("signing out closes that session's sockets (4003), not the account's other sessions", async () => {
    const first = await signIn("dot", "dot password");
    const second = await signIn("dot", "dot password");
    const mine = await connect(`${hub.ws}/v1/ws/stream`, { cookie: `skynet_session=${first}`, origin: hub.http });
    const other = await connect(`${hub.ws}/v1/ws/stream`, { cookie: `skynet_session=${second}`, origin: hub.http });
    expect((await post("/v1/auth/logout", {}, as(first))).status).toBe(204);
    expect((await mine.waitClosed()).code).toBe(4003);
    expect(await other.request({ kind: "ping", id: "still" })).toEqual({ kind: "pong", id: "still" });
  });

  test("a token's expiry closes its sockets on every endpoint at that moment (4003)", async () => {
    const token = hub.token("eve", "operator", undefined, 2);
    const s = await stream(token);
    const c = await commands(token);
    const t = await topics(token);
    const g = await member("expiring", "eve-client", token);
    const closed = await Promise.all([s, c, t, g].map((x) => x.waitClosed()));
    expect(closed.map((x) => x.code)).toEqual([4003, 4003, 4003, 4003]);
    expect(closed[0]!.reason).toContain("expired");
  });

  test("a /v3 client id belongs to the account that first used it: another account is refused (409), the same one wins", async () => {
    const ann = hub.token("ann", "operator");
    const first = await member("owned", "cam-1", ann);
    const refusal = await upgradeRefusal(groupUrl("owned", "cam-1", hub.token("ben", "operator")).replace(/^ws/, "http"));
    expect(refusal.status).toBe(409);
    expect(refusal.body).toContain("belongs to another account");
    // The holder still gets its direct messages.
    const other = await member("owned", "cam-2", hub.token("cam-2", "operator"));
    other.send({ msg_type: "msg", target: "direct", to_id: "cam-1", msg: "for ann" });
    expect((await first.next((f) => f.msg === "for ann")).from_id).toBe("cam-2");
    // The same account's newer connection replaces the older.
    const again = await member("owned", "cam-1", ann);
    expect((await first.waitClosed()).code).toBe(4001);
    other.send({ msg_type: "msg", target: "direct", to_id: "cam-1", msg: "for ann again" });
    expect((await again.next((f) => f.msg === "for ann again")).from_id).toBe("cam-2");
  });
});

describe("a flood of frames", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ args: ["--role", "hub"], config: "[server]\nmax_frames_per_s = 50\n" });
  });
  afterAll(async () => {
    expect(await limited.stop()).toBe(0);
  });

  test("frames over [server] max_frames_per_s are refused (one answer a second); flooding on is closed 1008; SkyNodes are not limited", async () => {
    const viewer = await stream(limited.token("flood", "viewer"), limited);
    const node = await commands(limited.token("node-f", "skynode", ["tel-f"]), limited);
    for (let i = 0; i < 300; i++) node.send({ kind: "ping", id: `n${i}` });
    await node.next((f) => f.id === "n299");
    expect(node.received.filter((f) => f.kind === "pong")).toHaveLength(300);

    for (let i = 0; i < 300; i++) viewer.send({ kind: "ping", id: `v${i}` });
    const refusal = await viewer.next((f) => f.kind === "error");
    expect(refusal).toMatchObject({ code: "forbidden", message: expect.stringContaining("more than 50 frames per second") });
    const answered = () => viewer.received.filter((f) => f.kind === "pong").length;
    await viewer.next((f) => f.kind === "pong" && f.id === "v49");
    expect(answered()).toBeLessThan(300);
    // Keep flooding: within a few seconds the server closes the socket.
    const flood = setInterval(() => {
      if (!viewer.closed) for (let i = 0; i < 100; i++) viewer.send({ kind: "ping" });
    }, 50);
    try {
      const closed = await viewer.waitClosed();
      expect(closed.code).toBe(1008);
    } finally {
      clearInterval(flood);
    }
    // At most one refusal answer per second of flooding.
    const refusals = viewer.received.filter((f) => f.kind === "error");
    expect(refusals.length).toBeLessThanOrEqual(7);
    expect(((await (await fetch(`${limited.http}/healthz`)).json()) as { status: string }).status).toBe("ok");
  }, 20_000);
});
