// Seed 003's topic API on /wss (docs/messaging.md): real WebSocket clients against the real server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, type TestServer } from "../helpers/server";
import { TestClient, type Frame } from "../helpers/ws-client";
import { upgradeRefusal } from "../helpers/upgrade";

let server: TestServer;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServer({ config: "[messaging]\nmax_topic_subscriptions = 3\n" });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server.stop();
});

async function connect(sub: string, role: Parameters<TestServer["token"]>[1], telescopes?: string[]): Promise<TestClient> {
  const c = await TestClient.connect(`${server.ws}/wss?token=${server.token(sub, role, telescopes)}`);
  clients.push(c);
  return c;
}

const isMessage = (topic: string, pred: (f: Frame) => boolean = () => true) => (f: Frame) => f.kind === "message" && f.topic === topic && pred(f);

describe("/wss topics", () => {
  test("the upgrade needs a valid token", async () => {
    expect(await upgradeRefusal(`${server.http}/wss`)).toEqual({ status: 401, body: expect.stringContaining("no credentials") });
    expect(await upgradeRefusal(`${server.http}/wss?token=nope`)).toEqual({ status: 401, body: "invalid or expired token" });
  });

  test("publish reaches every subscriber of the topic with server-filled from and sent_at; unsubscribe stops it", async () => {
    const alice = await connect("alice", "operator");
    const bob = await connect("bob", "viewer");
    const carol = await connect("carol", "viewer");
    expect(await bob.request({ id: "s1", action: "subscribe", topic: "dome/chat" })).toEqual({ kind: "ack", action: "subscribe", topic: "dome/chat", id: "s1" });
    await carol.request({ id: "s2", action: "subscribe", topic: "other" });

    const data = { name: "greeting", type: "text", data: { text: "clear skies", n: [1, 2] } };
    const before = Date.now();
    expect(await alice.request({ id: "p1", action: "publish", topic: "dome/chat", data })).toEqual({ kind: "ack", action: "publish", topic: "dome/chat", id: "p1" });
    const got = await bob.next(isMessage("dome/chat"));
    expect(got).toEqual({ kind: "message", topic: "dome/chat", data, from: "alice", sent_at: expect.any(String) });
    expect(Date.parse(got.sent_at)).toBeGreaterThanOrEqual(before - 1000);

    // A publisher cannot set `from` (unknown fields are refused, so a spoof attempt is an error, not a delivery).
    const spoof = await alice.request({ id: "p2", action: "publish", topic: "dome/chat", data, from: "root" });
    expect(spoof).toMatchObject({ kind: "error", id: "p2", code: "invalid" });

    // Carol, subscribed elsewhere, got nothing of it; after bob unsubscribes he gets nothing more either.
    await bob.request({ id: "u1", action: "unsubscribe", topic: "dome/chat" });
    await alice.request({ id: "p3", action: "publish", topic: "dome/chat", data: { ...data, name: "after" } });
    await alice.request({ id: "p4", action: "publish", topic: "other", data: { name: "marker", type: "t", data: null } });
    await carol.next(isMessage("other", (f) => f.data.name === "marker"));
    expect(carol.received.filter((f) => f.topic === "dome/chat")).toEqual([]);
    await bob.request({ id: "s3", action: "subscribe", topic: "other" });
    await alice.request({ id: "p5", action: "publish", topic: "other", data: { name: "marker2", type: "t", data: null } });
    await bob.next(isMessage("other", (f) => f.data.name === "marker2"));
    expect(bob.received.filter((f) => f.kind === "message" && f.data.name === "after")).toEqual([]);
  });

  test("who may publish and subscribe where", async () => {
    const viewer = await connect("vic", "viewer");
    const admin = await connect("root", "admin");
    const skynode = await connect("node", "skynode", ["sim-1"]);
    const data = { name: "x", type: "y", data: 1 };
    expect(await viewer.request({ id: "v1", action: "publish", topic: "dome/chat", data })).toMatchObject({ kind: "error", code: "forbidden", id: "v1" });
    expect(await skynode.request({ id: "n1", action: "publish", topic: "dome/chat", data })).toMatchObject({ kind: "error", code: "forbidden" });
    // Server topics are read-only for everyone, admins included.
    for (const topic of ["server_logs", "server_logs/x", "telescope_snapshot/sim-1", "device_snapshot/sim-1/mount", "telescope_log/sim-1", "server/anything"]) {
      expect(await admin.request({ id: `a-${topic}`, action: "publish", topic, data })).toMatchObject({ kind: "error", code: "forbidden" });
    }
    expect(await viewer.request({ id: "v2", action: "subscribe", topic: "server_logs" })).toMatchObject({ kind: "error", code: "forbidden" });
    const elsewhere = await connect("far", "viewer", ["other-scope"]);
    expect(await elsewhere.request({ id: "e1", action: "subscribe", topic: "telescope_snapshot/sim-1" })).toMatchObject({ kind: "error", code: "forbidden" });
    expect(await elsewhere.request({ id: "e2", action: "subscribe", topic: "telescope_snapshot/other-scope" })).toMatchObject({ kind: "ack" });
  });

  test("bad messages get an error object and the socket stays open", async () => {
    const c = await connect("dan", "operator");
    const bad: [string | object, string | undefined][] = [
      ["not json", undefined],
      [{ id: "b1", action: "dance", topic: "t" }, "b1"],
      [{ id: "b2", action: "subscribe" }, "b2"],
      [{ id: "b3", action: "subscribe", topic: "has space" }, "b3"],
      [{ id: "b4", action: "subscribe", topic: "t", extra: true }, "b4"],
      [{ id: "b5", action: "publish", topic: "t", data: { name: "n" } }, "b5"],
      [{ id: "b6", action: "subscribe", topic: "x".repeat(201) }, "b6"],
    ];
    for (const [msg, id] of bad) {
      c.send(msg);
      const err = await c.next((f) => f.kind === "error" && f.id === id);
      expect(err).toMatchObject({ kind: "error", code: "invalid", message: expect.any(String) });
    }
    c.send({ action: "publish", topic: "t", data: { name: "big", type: "t", data: "x".repeat(1100 * 1024) } });
    expect(await c.next((f) => f.kind === "error" && f.id === undefined)).toMatchObject({ code: "invalid", message: expect.stringContaining("exceeds") });
    c.send(new Uint8Array([1, 2, 3]));
    expect(await c.next((f) => f.kind === "error" && f.id === undefined)).toMatchObject({ code: "invalid", message: expect.stringContaining("binary") });
    // The limit of this server's config: 3 topics per connection.
    for (const t of ["t1", "t2", "t3"]) await c.request({ id: t, action: "subscribe", topic: t });
    expect(await c.request({ id: "t4", action: "subscribe", topic: "t4" })).toMatchObject({ kind: "error", code: "invalid", message: expect.stringContaining("at most 3") });
    expect(await c.request({ id: "again", action: "subscribe", topic: "t1" })).toMatchObject({ kind: "ack" });
    expect(c.closed).toBeNull();
  });

  test("telemetry topics: the latest snapshot on subscribe, then live ones", async () => {
    const c = await connect("eve", "viewer", ["sim-1"]);
    await c.request({ id: "tel", action: "subscribe", topic: "telescope_snapshot/sim-1" });
    const first = await c.next(isMessage("telescope_snapshot/sim-1"), 10_000);
    expect(first).toMatchObject({ from: "server", data: { name: "telescope_snapshot", type: "snapshot", data: { pointing: expect.any(Object) } } });
    await c.next(isMessage("telescope_snapshot/sim-1", (f) => f.sent_at > first.sent_at), 10_000);
    await c.request({ id: "dev", action: "subscribe", topic: "device_snapshot/sim-1/mount" });
    const mount = await c.next(isMessage("device_snapshot/sim-1/mount"), 10_000);
    expect(mount.data).toMatchObject({ name: "device_snapshot", type: "mount", data: { device_type: "mount" } });
  });

  test("server_logs carries the server's own log lines, structured, to admins", async () => {
    const admin = await connect("root2", "admin");
    await admin.request({ id: "logs", action: "subscribe", topic: "server_logs" });
    const name = `nobody-${crypto.randomUUID().slice(0, 8)}`;
    const res = await fetch(`${server.http}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password: "wrong-password" }) });
    expect(res.status).toBe(401);
    const line = await admin.next(isMessage("server_logs", (f) => f.data.data?.name === name));
    expect(line).toMatchObject({ from: "server", data: { name: "log", type: "warn", data: { level: 40, msg: "failed sign-in", app: "skynode", time: expect.any(Number) } } });
    // The same line goes to the server's own log (stderr, written asynchronously: it may arrive a little later).
    for (const deadline = Date.now() + 5000; !server.logs().includes(name) && Date.now() < deadline; ) await Bun.sleep(20);
    expect(server.logs()).toContain(name);
  });
});
