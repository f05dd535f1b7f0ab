// Redis killed (SIGKILL) mid-traffic and restarted on its port, frozen (SIGSTOP), and away for longer than Bun's
// client retries, under two hub instances: a SkyNode on A, its users on B. The hubs stay up and answer at once while
// Redis is away; afterwards events, routed commands and cancels, retained state, /wss topics and /v3 groups work again
// by themselves; every result and lease event is journalled once (on A) and reaches B's subscribers once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { RedisClient } from "bun";
import { addApiKey, issueApiKey } from "../helpers/api-key";
import { Operator } from "../helpers/operator";
import { startRedis, type TestRedis } from "../helpers/redis";
import { startServer, type TestServer } from "../helpers/server";
import { startSkyNodeProcess, type SkyNodeProcess } from "../helpers/skynode-process";
import { freshDirs } from "../helpers/temp-dirs";
import { TestSkyNode } from "../helpers/test-skynode";
import { TestClient, type Frame } from "../helpers/ws-client";
import { until as poll } from "../helpers/poll";

const RPC_TIMEOUT_MS = 1500;
/** Short enough to expire while Redis is down. */
const LEASE_S = 5;
/** Past the point where Bun's RedisClient gives up reconnecting for good (20 retries, about 31 s here). */
const LONG_OUTAGE_MS = 36_000;

const newDir = freshDirs();
let redis: TestRedis;
let a: TestServer;
let b: TestServer;
let node: SkyNodeProcess;
let key: string;
const clients: { close(): void }[] = [];
const servers: TestServer[] = [];

async function instance(first?: TestServer): Promise<TestServer> {
  const dataDir = newDir();
  if (first) copyFileSync(join(first.dataDir, "signing.key"), join(dataDir, "signing.key"));
  const config = `[backplane]\nredis_url = "${redis.url}"\nroute_ttl_ms = 3000\nrpc_timeout_ms = ${RPC_TIMEOUT_MS}\n`;
  const s = await startServer({ dataDir, config, args: ["--role", "hub"] });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  redis = await startRedis();
  a = await instance();
  b = await instance(a);
  key = await issueApiKey(a.dataDir, "fleet");
  await addApiKey(b.dataDir, "fleet", key);
  node = await startSkyNodeProcess(a, "t1");
});
afterAll(async () => {
  for (const c of clients) c.close();
  await node?.stop();
  await Promise.all(servers.filter((s) => s.proc.exitCode === null).map((s) => s.stop()));
  await redis?.stop();
});

async function ws(url: string): Promise<TestClient> {
  const c = await TestClient.connect(url);
  clients.push(c);
  return c;
}

async function operator(srv: TestServer, sub: string, role: "operator" | "viewer" = "operator"): Promise<Operator> {
  const op = await Operator.connect(srv, sub, role, "t1");
  clients.push(op);
  return op;
}

async function member(srv: TestServer, group: string, client: string): Promise<TestClient> {
  const c = await ws(`${srv.ws}/v3/ws/group/${group}/client/${client}?api_key=${key}&jwt=${srv.token(client, "operator")}`);
  await c.next((f) => f.msg_type === "presence" && f.payload?.event === "snapshot");
  return c;
}

const presenceOf = async (srv: TestServer, group: string) =>
  ((await (await fetch(`${srv.http}/v3/group/${group}/presence?api_key=${key}&jwt=${srv.token("x", "viewer")}`)).json()) as { clients: { client_id: string }[] }).clients
    .map((c) => c.client_id)
    .sort();

/** Polls every 200 ms: each attempt is a real request to the hubs. */
const until = (what: string, attempt: () => Promise<boolean>, ms = 15_000) => poll(what, attempt, ms, 200);

const health = async (srv: TestServer) => (await (await fetch(`${srv.http}/healthz`)).json()) as { status: string; backplane?: { state: string } };

async function healthy(srv: TestServer): Promise<void> {
  const res = await fetch(`${srv.http}/healthz`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBeDefined();
}


/** A request that must be answered (ack or error) within `ms`, never left hanging. */
async function answeredWithin(ms: number, send: () => Promise<{ answer: Frame }>): Promise<Frame> {
  const t0 = Date.now();
  const { answer } = await send();
  expect(Date.now() - t0).toBeLessThan(ms);
  return answer;
}

const logged = (srv: TestServer, msg: RegExp) => srv.logs().split("\n").some((line) => msg.test(line));

let alice: Operator;
let watchA: Operator;
let leaseId: string;
let acquireId: string;
let e1: string;
let subB: TestClient;
let pubA: TestClient;
let alpha: TestClient;
let bravo: TestClient;
let t2: TestSkyNode;

describe("Redis killed and restarted under two hub instances", () => {
  test("before: events, routed commands, topics and groups cross instances", async () => {
    alice = await operator(b, "alice");
    watchA = await operator(a, "watch", "viewer");
    await alice.snapshot("event_telescope_snapshot", () => true, undefined, 10_000);
    const acquire = await alice.publish({ command_type: "manual_control_lease.acquire", duration_s: LEASE_S, purpose: "test" });
    expect(acquire.answer.kind).toBe("ack");
    acquireId = acquire.command_id;
    leaseId = (await alice.result(acquireId)).data.lease_id;
    await alice.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId && f.lease.state === "active");

    subB = await ws(`${b.ws}/wss?token=${b.token("bob", "admin")}`);
    pubA = await ws(`${a.ws}/wss?token=${a.token("carol", "operator")}`);
    await subB.request({ id: "s", action: "subscribe", topic: "fleet/news" });
    await pubA.request({ id: "p0", action: "publish", topic: "fleet/news", data: { name: "n", type: "t", data: "before" } });
    await subB.next((f) => f.kind === "message" && f.data.data === "before");

    alpha = await member(a, "fleet", "alpha");
    bravo = await member(b, "fleet", "bravo");
    await alpha.next((f) => f.msg_type === "presence" && f.payload.event === "join" && f.from_id === "bravo");

    // A SkyNode that publishes once and never again (no heartbeat): what Redis retains for it must come back.
    t2 = await TestSkyNode.connect(a, "t2", "node-t2");
    clients.push(t2);
    t2.publish("publish_telescope_snapshot", { id: "t2-snap", snapshot: { name: "t2", state: "parked" } });
    await t2.stream.next((f) => f.kind === "ack" && f.id === "t2-snap");

    // Mid-traffic: an exposure from B is running on A's SkyNode when Redis dies.
    const exposure = await alice.publish({ command_type: "camera.exposure.start", duration_s: 2, binning: 1 });
    expect(exposure.answer.kind).toBe("ack");
    e1 = exposure.command_id;
    await alice.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
  }, 60_000);

  test("Redis killed: both hubs stay up, A takes its users' commands, commands and cancels from B are answered at once with a clear error", async () => {
    await redis.kill();
    await healthy(a);
    await healthy(b);
    // On A, where the SkyNode is, the lease holder's commands are taken as ever.
    const aliceOnA = await operator(a, "alice");
    expect((await aliceOnA.run({ command_type: "focuser.move_relative", delta_um: 10 })).status).toBe("ok");

    const refused = await answeredWithin(RPC_TIMEOUT_MS + 1000, () => alice.publish({ command_type: "focuser.move_relative", delta_um: 0 }));
    expect(refused).toMatchObject({ kind: "error" });
    expect(refused.message).toMatch(/redis/i);
    const cancel = await answeredWithin(RPC_TIMEOUT_MS + 1000, async () => ({
      answer: await alice.commands.request({ id: "cancel-during", kind: "cancel_command", command_id: acquireId }),
    }));
    expect(cancel).toMatchObject({ kind: "error" });
    expect(cancel.message).toMatch(/redis/i);
    // A direct group message to another instance's client says it could not be delivered.
    bravo.send({ msg_type: "msg", target: "direct", to_id: "alpha", msg: "during" });
    expect(await bravo.next((f) => f.cmd === "ERROR", 3000)).toMatchObject({ payload: { code: "internal" } });

    // On A the telescope goes on: the exposure finishes and the lease expires, both while Redis is away.
    expect((await watchA.result(e1, 15_000)).status).toBe("ok");
    await watchA.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId && f.lease.state === "expired", 15_000);

    // Both say they are cut off.
    await until("A and B log that Redis is unreachable", async () => logged(a, /"msg":"Redis unreachable/) && logged(b, /"msg":"Redis unreachable/), 5000);
    await healthy(a);
    await healthy(b);
    for (const srv of [a, b]) expect(await health(srv)).toMatchObject({ status: "degraded", backplane: { state: "disconnected" } });
  }, 60_000);

  test("Redis back on its port: what B missed arrives once, and routed commands, cancels, retained state, topics and groups work again by themselves", async () => {
    if (redis.proc.exitCode === null && redis.proc.signalCode === null) await redis.kill();
    await redis.restart();

    // A routed command from B (the lease again): answered promptly each time, taken once the instances see each other.
    await until("a routed acquire from B", async () => {
      const { command_id, answer } = await alice.publish({ command_type: "manual_control_lease.acquire", duration_s: 300, purpose: "test" });
      if (answer.kind !== "ack") return false;
      return (await alice.result(command_id)).status === "ok";
    });
    await until("A and B's /healthz say ok again", async () => (await health(a)).status === "ok" && (await health(b)).status === "ok");
    // What B's subscribers missed while Redis was away: the exposure's result and the lease's expiry.
    expect((await alice.result(e1, 10_000)).status).toBe("ok");
    await alice.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId && f.lease.state === "expired", 10_000);

    // Routed cancel, and A's snapshots on B again.
    const long = await alice.publish({ command_type: "camera.exposure.start", duration_s: 30, binning: 1 });
    expect(long.answer.kind).toBe("ack");
    await alice.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera", 10_000);
    expect(await alice.commands.request({ id: "cancel-after", kind: "cancel_command", command_id: long.command_id })).toMatchObject({ kind: "ack" });
    expect((await alice.result(long.command_id)).status).toBe("canceled");
    await alice.snapshot("event_device_snapshot", (s) => s.state === "idle", "camera", 10_000);
    expect((await alice.run({ command_type: "focuser.move_relative", delta_um: 10 })).status).toBe("ok");

    // /wss: B's subscription from before the outage receives A's publishes again.
    let n = 0;
    await until("a topic publish on A reaching B's old subscription", async () => {
      const tag = `after-${++n}`;
      await pubA.request({ id: tag, action: "publish", topic: "fleet/news", data: { name: "n", type: "t", data: tag } });
      return await subB.next((f) => f.kind === "message" && f.data.data === tag, 300).then(() => true, () => false);
    });

    // /v3: group and direct messages both ways, and presence restored without a heartbeat.
    await until("a group message from A reaching B", async () => {
      const tag = `group-${++n}`;
      alpha.send({ msg_type: "msg", target: "group", msg: tag });
      return await bravo.next((f) => f.msg === tag, 300).then(() => true, () => false);
    });
    bravo.send({ msg_type: "msg", target: "direct", to_id: "alpha", msg: "direct-after" });
    await alpha.next((f) => f.msg === "direct-after");
    expect(await presenceOf(a, "fleet")).toEqual(["alpha", "bravo"]);
    expect(await presenceOf(b, "fleet")).toEqual(["alpha", "bravo"]);

    // What Redis held and lost: the routing entries and t2's retained snapshot (t2 has published nothing since).
    const r = new RedisClient(redis.url);
    try {
      await until("routing entries and retained snapshots back in Redis", async () => {
        const t2Snap = await r.hget("skynode:retained", "telescope_snapshot\u0000t2\u0000");
        return (await r.get("skynode:route:t1")) !== null && (await r.get("skynode:route:t2")) !== null && t2Snap?.includes('"parked"') === true;
      });
    } finally {
      r.close();
    }
    expect(logged(a, /"msg":"Redis reachable again/) && logged(b, /"msg":"Redis reachable again/)).toBe(true);
    await healthy(a);
    await healthy(b);
  }, 90_000);

  test("Redis frozen (SIGSTOP): commands are answered within the RPC timeout, the hubs notice the silence, and after SIGCONT everything works again", async () => {
    const count = (srv: TestServer, msg: RegExp) => srv.logs().split("\n").filter((line) => msg.test(line)).length;
    const lost = /"msg":"Redis unreachable/;
    const back = /"msg":"Redis reachable again/;
    const before = [count(a, lost), count(b, lost), count(a, back), count(b, back)];
    redis.freeze();
    try {
      // Its sockets stay open and nothing is answered: the wait is bounded by the RPC timeout, not by Redis.
      const refused = await answeredWithin(RPC_TIMEOUT_MS + 1000, () => alice.publish({ command_type: "focuser.move_relative", delta_um: 0 }));
      expect(refused).toMatchObject({ kind: "error" });
      expect(refused.message).toMatch(/redis/i);
      // The silence is noticed (unanswered PINGs): from then on requests fail at once.
      await until("both hubs noticing the frozen Redis", async () => count(a, lost) > before[0]! && count(b, lost) > before[1]!, 10_000);
      const atOnce = await answeredWithin(500, () => alice.publish({ command_type: "focuser.move_relative", delta_um: 0 }));
      expect(atOnce.message).toMatch(/redis is unreachable/i);
      await healthy(a);
      await healthy(b);
    } finally {
      redis.thaw();
    }
    await until("a routed command after the thaw", async () => {
      const { command_id, answer } = await alice.publish({ command_type: "focuser.move_relative", delta_um: 5 });
      return answer.kind === "ack" && (await alice.result(command_id)).status === "ok";
    }, 20_000);
    expect(count(a, back)).toBeGreaterThan(before[2]!);
    expect(count(b, back)).toBeGreaterThan(before[3]!);
    // A's snapshots reach B again.
    await alice.snapshot("event_device_snapshot", () => true, "focuser", 10_000);
  }, 60_000);

  test("Redis away for longer than Bun's client keeps retrying (about 30 s): the hubs stay up meanwhile and reconnect when it is back", async () => {
    await redis.kill();
    // Through the whole outage, every few seconds: both hubs answer, and B refuses a routed command at once.
    const outageEnds = Date.now() + LONG_OUTAGE_MS;
    while (Date.now() < outageEnds) {
      await healthy(a);
      await healthy(b);
      const refused = await answeredWithin(1000, () => alice.publish({ command_type: "focuser.move_relative", delta_um: 0 }));
      expect(refused.message).toMatch(/redis is unreachable/i);
      await Bun.sleep(3000);
    }
    await redis.restart();
    await until("a routed command after the long outage", async () => {
      const { command_id, answer } = await alice.publish({ command_type: "focuser.move_relative", delta_um: 5 });
      return answer.kind === "ack" && (await alice.result(command_id)).status === "ok";
    }, 20_000);
    let n = 0;
    await until("a topic publish on A reaching B after the long outage", async () => {
      const tag = `long-${++n}`;
      await pubA.request({ id: tag, action: "publish", topic: "fleet/news", data: { name: "n", type: "t", data: tag } });
      return await subB.next((f) => f.kind === "message" && f.data.data === tag, 300).then(() => true, () => false);
    });
  }, 90_000);

  test("nothing lost or duplicated: A journalled every result and lease event once, B's subscriber got each once, B journalled none", async () => {
    // Quiet: nothing in flight, then the hubs stop and their journals are read.
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    const rows = (dir: string) => {
      const db = new Database(join(dir, "skynode.db"), { readonly: true });
      try {
        return db.query("SELECT seq, kind, command_id FROM journal WHERE telescope_uid = 't1' ORDER BY seq").all() as { seq: number; kind: string; command_id: string | null }[];
      } finally {
        db.close();
      }
    };
    const journal = rows(a.dataDir);
    expect(rows(b.dataDir)).toEqual([]);
    const commands = journal.filter((e) => e.kind === "command").map((e) => e.command_id);
    const results = journal.filter((e) => e.kind === "command_result").map((e) => e.command_id);
    expect(new Set(results).size).toBe(results.length);
    expect(results.slice().sort()).toEqual(commands.slice().sort());
    expect(results).toContain(e1);

    const seenResults: (string | null)[] = alice.commands.received.filter((f) => f.kind === "event_command_result").map((f) => f.result.command_id);
    expect(seenResults.slice().sort()).toEqual(results.slice().sort());
    const leaseSeqs = journal.filter((e) => e.kind === "lease").map((e) => e.seq);
    const seenLeases = alice.stream.received.filter((f) => f.kind === "event_manual_control_lease").map((f) => f.seq as number);
    expect(seenLeases.slice().sort((x, y) => x - y)).toEqual(leaseSeqs);
  }, 30_000);
});
