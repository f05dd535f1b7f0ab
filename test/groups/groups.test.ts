// Seed 004's group messaging on /v3/ws (docs/messaging.md): real WebSocket clients against the real server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { issueApiKey } from "../helpers/api-key";
import { startServer, type TestServer } from "../helpers/server";
import { upgradeRefusal } from "../helpers/upgrade";
import { TestClient, type Frame } from "../helpers/ws-client";

let server: TestServer;
let key: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServer();
  key = await issueApiKey(server.dataDir, "tests");
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server.stop();
});

type Role = Parameters<TestServer["token"]>[1];
const groupUrl = (base: string, group: string, client: string, query: string) => `${base}/v3/ws/group/${encodeURIComponent(group)}/client/${encodeURIComponent(client)}?${query}`;

async function join(group: string, client: string, role: Role = "operator", sub = client, srv = server, apiKey = key): Promise<TestClient> {
  const c = await TestClient.connect(groupUrl(srv.ws, group, client, `api_key=${apiKey}&jwt=${srv.token(sub, role)}`));
  clients.push(c);
  // Its presence snapshot comes first: the connection is registered.
  await c.next((f) => f.msg_type === "presence" && f.payload?.event === "snapshot");
  return c;
}

const isError = (code: string) => (f: Frame) => f.cmd === "ERROR" && f.payload?.code === code;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** `c` received nothing matching `pred` before a marker it is sent afterwards (messages to one socket keep order). */
async function receivedNothing(c: TestClient, pred: (f: Frame) => boolean, via: TestClient, to: string): Promise<void> {
  const marker = crypto.randomUUID();
  via.send({ msg_type: "msg", target: "direct", to_id: to, msg: marker });
  await c.next((f) => f.msg === marker);
  expect(c.received.filter(pred)).toEqual([]);
}

describe("/v3/ws group messaging", () => {
  test("the upgrade needs a live api_key and a valid jwt; x_account_id is the caller's own unless admin", async () => {
    const jwt = server.token("ann", "operator");
    const url = (q: string) => groupUrl(server.http, "g", "c1", q);
    expect(await upgradeRefusal(url(`jwt=${jwt}`))).toEqual({ status: 401, body: expect.stringContaining("api_key is required") });
    expect(await upgradeRefusal(url(`api_key=sk_00000000_${"A".repeat(43)}&jwt=${jwt}`))).toEqual({ status: 401, body: "invalid or revoked api_key" });
    expect(await upgradeRefusal(url(`api_key=${key}x&jwt=${jwt}`))).toEqual({ status: 401, body: "invalid or revoked api_key" });
    expect(await upgradeRefusal(url(`api_key=${key}`))).toEqual({ status: 401, body: expect.stringContaining("jwt is required") });
    expect(await upgradeRefusal(url(`api_key=${key}&jwt=${jwt}x`))).toEqual({ status: 401, body: "invalid or expired jwt" });
    const expired = server.token("ann", "operator", undefined, 1);
    await Bun.sleep(2100); // the token's expiry is in whole seconds
    expect(await upgradeRefusal(url(`api_key=${key}&jwt=${expired}`))).toEqual({ status: 401, body: "invalid or expired jwt" });
    expect(await upgradeRefusal(url(`api_key=${key}&jwt=${jwt}&x_account_id=bob`))).toMatchObject({ status: 403 });
    expect(await upgradeRefusal(groupUrl(server.http, "g", "x".repeat(201), `api_key=${key}&jwt=${jwt}`))).toMatchObject({ status: 400 });
    // Her own account, and an admin acting for another, are accepted.
    const own = await TestClient.connect(url(`api_key=${key}&jwt=${jwt}&x_account_id=ann`));
    clients.push(own);
    const admin = await TestClient.connect(groupUrl(server.ws, "g", "c2", `api_key=${key}&jwt=${server.token("root", "admin")}&x_account_id=bob`));
    clients.push(admin);
    own.close();
    admin.close();
  });

  test("group, direct and echo reach exactly their recipients, with server-filled fields", async () => {
    const a = await join("team", "a");
    const b = await join("team", "b");
    const c = await join("elsewhere", "c");

    const before = Date.now();
    // A spoof attempt in every server-filled field: ignored, the server's values win.
    a.send({ msg_type: "msg", target: "group", msg: "Hello team!", from_id: "mallory", group_id: "elsewhere", sent_at: "1999-01-01T00:00:00.000Z", version: "9" });
    const atB = await b.next((f) => f.msg === "Hello team!");
    expect(atB as object).toEqual({ version: "3", msg_type: "msg", target: "group", from_id: "a", group_id: "team", msg: "Hello team!", sent_at: expect.stringMatching(ISO) });
    expect(Date.parse(atB.sent_at)).toBeGreaterThanOrEqual(before - 1000);
    await a.next((f) => f.msg === "Hello team!"); // the sender is a member of its group
    await receivedNothing(c, (f) => f.msg === "Hello team!", a, "c");

    // Direct: to a client in another group; cmd and payload carried as sent.
    a.send({ msg_type: "cmd", target: "direct", to_id: "c", cmd: "RELOAD_UI", payload: { force: true } });
    expect((await c.next((f) => f.cmd === "RELOAD_UI")) as object).toEqual({
      version: "3", msg_type: "cmd", target: "direct", from_id: "a", to_id: "c", group_id: "team", cmd: "RELOAD_UI", payload: { force: true }, sent_at: expect.stringMatching(ISO),
    });
    await receivedNothing(b, (f) => f.cmd === "RELOAD_UI", a, "b");

    // Echo: only back to the sender.
    b.send({ msg_type: "msg", target: "echo", msg: "Ping!" });
    expect(await b.next((f) => f.msg === "Ping!")).toMatchObject({ target: "echo", from_id: "b", group_id: "team" });
    await receivedNothing(a, (f) => f.msg === "Ping!", b, "a");

    // Heartbeat: echoed to the sender, whatever its target.
    a.send({ msg_type: "heartbeat", target: "group" });
    expect(await a.next((f) => f.msg_type === "heartbeat")).toMatchObject({ target: "echo", from_id: "a" });
    await receivedNothing(b, (f) => f.msg_type === "heartbeat", a, "b");
  });

  test("direct to an unknown client is not_found; broadcast is for admins; bad messages are invalid and the socket stays open", async () => {
    const d = await join("g2", "d");
    const e = await join("g3", "e");
    const root = await join("g4", "root", "admin");

    d.send({ msg_type: "msg", target: "direct", to_id: "nobody-here", msg: "hi" });
    const nf = await d.next(isError("not_found"));
    expect(nf).toMatchObject({ version: "3", msg_type: "msg", target: "echo", from_id: "d", group_id: "g2", msg: expect.stringContaining("nobody-here") });

    d.send({ msg_type: "cmd", target: "broadcast", cmd: "MAINTENANCE_WARNING" });
    expect(await d.next(isError("forbidden"))).toMatchObject({ msg: expect.stringContaining("admin") });
    root.send({ msg_type: "cmd", target: "broadcast", cmd: "MAINTENANCE_WARNING" });
    for (const c of [d, e, root]) expect(await c.next((f) => f.cmd === "MAINTENANCE_WARNING")).toMatchObject({ target: "broadcast", from_id: "root", group_id: "g4" });
    expect(d.received.filter((f) => f.cmd === "MAINTENANCE_WARNING")).toHaveLength(1);

    const bad: (object | string)[] = [
      "not json",
      { msg_type: "msg", target: "direct", msg: "no to_id" },
      { msg_type: "shout", target: "group" },
      { msg_type: "msg", target: "everyone" },
      { msg_type: "msg", target: "group", colour: "red" },
      { msg_type: "msg", target: "group", payload: "not an object" },
      { target: "group", msg: "no type" },
    ];
    for (const m of bad) {
      d.send(m);
      await d.next(isError("invalid"));
    }
    d.send({ msg_type: "msg", target: "echo", msg: "x".repeat(1100 * 1024) });
    expect(await d.next(isError("invalid"))).toMatchObject({ msg: expect.stringContaining("exceeds the 1048576-byte limit") });
    d.send({ msg_type: "presence", target: "group", payload: { event: "leave", client_id: "e" } });
    expect(await d.next(isError("forbidden"))).toMatchObject({ msg: expect.stringContaining("server") });
    await receivedNothing(e, (f) => f.msg_type === "presence" && f.payload?.event === "leave", root, "e");
    // Null counts as absent, as Pydantic's optional fields do.
    d.send({ msg_type: "msg", target: "echo", msg: "nulls", to_id: null, payload: null, cmd: null });
    expect(await d.next((f) => f.msg === "nulls")).not.toHaveProperty("payload");
    expect(d.closed).toBeNull();
  });

  test("presence: a snapshot to the newcomer, join and leave to the group, and the REST view", async () => {
    const p1 = await join("room", "p1");
    const p2 = await TestClient.connect(groupUrl(server.ws, "room", "p2", `api_key=${key}&jwt=${server.token("p2", "viewer")}`));
    clients.push(p2);
    expect(await p2.next((f) => f.msg_type === "presence")).toMatchObject({ target: "direct", to_id: "p2", payload: { event: "snapshot", clients: ["p1", "p2"] } });
    expect(await p1.next((f) => f.msg_type === "presence" && f.payload.event === "join" && f.from_id === "p2")).toMatchObject({ from_id: "p2", group_id: "room", payload: { client_id: "p2" } });

    const view = async (query = `api_key=${key}&jwt=${server.token("x", "viewer")}`) => await fetch(`${server.http}/v3/group/room/presence?${query}`);
    const res = await view();
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toEqual({ group_id: "room", ttl_s: 3600, clients: [{ client_id: "p1", expires_at: expect.stringMatching(ISO) }, { client_id: "p2", expires_at: expect.stringMatching(ISO) }] });
    expect(Date.parse(body.clients[0].expires_at)).toBeGreaterThan(Date.now() + 3500_000);
    expect((await view(`jwt=${server.token("x", "viewer")}`)).status).toBe(401);
    expect((await view(`api_key=${key}`)).status).toBe(401);
    // Headers work as well as the query.
    const viaHeaders = await fetch(`${server.http}/v3/group/room/presence`, { headers: { "x-api-key": key, authorization: `Bearer ${server.token("x", "viewer")}` } });
    expect(viaHeaders.status).toBe(200);

    p2.close();
    expect(await p1.next((f) => f.msg_type === "presence" && f.payload.event === "leave")).toMatchObject({ from_id: "p2", payload: { client_id: "p2" } });
    expect(((await (await view()).json()) as any).clients.map((c: { client_id: string }) => c.client_id)).toEqual(["p1"]);
  });

  test("the same client id again: the newer connection wins, the older is closed with a reason", async () => {
    const watcher = await join("dup", "w");
    const old = await join("dup", "same");
    const newer = await join("dup", "same");
    expect(await old.waitClosed()).toEqual({ code: 4001, reason: "replaced by a newer connection with this client_id" });
    // Direct messages go to the newer one; the id never left the group.
    watcher.send({ msg_type: "msg", target: "direct", to_id: "same", msg: "which one?" });
    await newer.next((f) => f.msg === "which one?");
    const view = (await (await fetch(`${server.http}/v3/group/dup/presence?api_key=${key}&jwt=${server.token("x", "viewer")}`)).json()) as any;
    expect(view.clients.map((c: { client_id: string }) => c.client_id)).toEqual(["same", "w"]);
    expect(watcher.received.filter((f) => f.msg_type === "presence" && f.payload.event === "leave")).toEqual([]);
    // Taken into another group: it leaves the first one.
    const moved = await join("dup2", "same");
    expect((await newer.waitClosed()).code).toBe(4001);
    expect(await watcher.next((f) => f.msg_type === "presence" && f.payload.event === "leave")).toMatchObject({ payload: { client_id: "same" } });
    moved.close();
  });

  test("revoking the API key closes its connections and refuses new ones", async () => {
    const admin = server.token("root", "admin");
    const created = await fetch(`${server.http}/v1/apikeys`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ name: "short-lived" }) });
    expect(created.status).toBe(201);
    const { id, key: shortKey } = (await created.json()) as { id: string; key: string };
    const c = await join("rk", "rk1", "operator", "rk1", server, shortKey);
    const del = await fetch(`${server.http}/v1/apikeys/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${admin}` } });
    expect(del.status).toBe(204);
    expect(await c.waitClosed()).toEqual({ code: 4003, reason: "the api_key of this connection was revoked" });
    expect(await upgradeRefusal(groupUrl(server.http, "rk", "rk2", `api_key=${shortKey}&jwt=${admin}`))).toEqual({ status: 401, body: "invalid or revoked api_key" });
  });
});

describe("presence expiry", () => {
  let short: TestServer;
  let shortKey: string;
  beforeAll(async () => {
    short = await startServer({ config: "[messaging]\npresence_ttl_s = 0.6\n", args: ["--role", "hub"] });
    shortKey = await issueApiKey(short.dataDir, "ttl");
  });
  afterAll(async () => {
    await short.stop();
  });

  test("a client without heartbeats drops out of presence after the TTL; its next heartbeat brings it back", async () => {
    const view = async () =>
      ((await (await fetch(`${short.http}/v3/group/ttl/presence?api_key=${shortKey}&jwt=${short.token("x", "viewer")}`)).json()) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id);
    const keeper = await join("ttl", "keeper", "operator", "keeper", short, shortKey);
    const idle = await join("ttl", "idle", "operator", "idle", short, shortKey);
    expect(await view()).toEqual(["idle", "keeper"]);
    // The keeper heartbeats at a third of the TTL until the idle one expires.
    const beat = setInterval(() => keeper.send({ msg_type: "heartbeat", target: "echo" }), 200);
    try {
      const expired = await keeper.next((f) => f.msg_type === "presence" && f.payload.event === "expire", 5000);
      expect(expired).toMatchObject({ from_id: "idle", group_id: "ttl", payload: { client_id: "idle" } });
      expect(await view()).toEqual(["keeper"]);
      expect(idle.closed).toBeNull(); // still connected, only no longer present
      idle.send({ msg_type: "heartbeat", target: "echo" });
      expect(await keeper.next((f) => f.msg_type === "presence" && f.payload.event === "join" && f.from_id === "idle")).toBeTruthy();
      expect(await view()).toEqual(["idle", "keeper"]);
    } finally {
      clearInterval(beat);
    }
  });
});
