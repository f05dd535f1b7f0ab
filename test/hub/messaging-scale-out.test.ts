// Topics (/wss) and groups (/v3/ws) across two hub instances sharing a real Redis (docs/messaging.md, "Scale-out").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { RedisClient } from "bun";
import { addApiKey, issueApiKey } from "../helpers/api-key";
import { startRedis, type TestRedis } from "../helpers/redis";
import { startServer, tempDir, type TestServer } from "../helpers/server";
import { TestClient, type Frame } from "../helpers/ws-client";

let redis: TestRedis;
let a: TestServer;
let b: TestServer;
let key: string;
const clients: TestClient[] = [];

/** A hub instance on the shared Redis; the second shares the first's signing key and API key, as instances behind
 * one address share their secrets. */
async function instance(first?: TestServer): Promise<TestServer> {
  const dataDir = tempDir();
  if (first) copyFileSync(join(first.dataDir, "signing.key"), join(dataDir, "signing.key"));
  return await startServer({ dataDir, config: `[backplane]\nredis_url = "${redis.url}"\n`, args: ["--role", "hub"] });
}

beforeAll(async () => {
  redis = await startRedis();
  a = await instance();
  b = await instance(a);
  key = await issueApiKey(a.dataDir, "fleet");
  await addApiKey(b.dataDir, "fleet", key);
});
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([a.stop(), b.stop()]);
  await redis.stop();
});

type Role = Parameters<TestServer["token"]>[1];

async function member(srv: TestServer, group: string, client: string, role: Role = "operator"): Promise<TestClient> {
  const c = await TestClient.connect(`${srv.ws}/v3/ws/group/${group}/client/${client}?api_key=${key}&jwt=${srv.token(client, role)}`);
  clients.push(c);
  await c.next((f) => f.msg_type === "presence" && f.payload?.event === "snapshot");
  return c;
}

const presenceOf = async (srv: TestServer, group: string) =>
  ((await (await fetch(`${srv.http}/v3/group/${group}/presence?api_key=${key}&jwt=${srv.token("x", "viewer")}`)).json()) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id);

describe("group messaging across hub instances", () => {
  test("group, direct and broadcast messages cross instances; presence is one Redis set per group", async () => {
    const onA = await member(a, "fleet", "alpha");
    const onB = await member(b, "fleet", "bravo");
    const elsewhere = await member(b, "other", "charlie");
    // Bravo's join on B reaches alpha on A.
    await onA.next((f) => f.msg_type === "presence" && f.payload.event === "join" && f.from_id === "bravo");

    onA.send({ msg_type: "msg", target: "group", msg: "Hello team!" });
    expect(await onB.next((f) => f.msg === "Hello team!")).toMatchObject({ version: "3", target: "group", from_id: "alpha", group_id: "fleet" });
    onB.send({ msg_type: "msg", target: "group", msg: "Hello back" });
    await onA.next((f) => f.msg === "Hello back");

    onA.send({ msg_type: "msg", target: "direct", to_id: "charlie", msg: "Private message just for you." });
    expect(await elsewhere.next((f) => f.msg === "Private message just for you.")).toMatchObject({ target: "direct", from_id: "alpha", to_id: "charlie" });
    onA.send({ msg_type: "msg", target: "direct", to_id: "nobody", msg: "lost" });
    expect(await onA.next((f) => f.cmd === "ERROR")).toMatchObject({ payload: { code: "not_found" } });
    // Charlie (other group) got neither group message.
    expect(elsewhere.received.filter((f) => f.msg?.startsWith("Hello"))).toEqual([]);

    const root = await member(a, "ops", "root", "admin");
    root.send({ msg_type: "cmd", target: "broadcast", cmd: "MAINTENANCE_WARNING" });
    for (const c of [onA, onB, elsewhere, root]) await c.next((f: Frame) => f.cmd === "MAINTENANCE_WARNING");

    // One presence set per group, in Redis: both instances answer the same.
    expect(await presenceOf(a, "fleet")).toEqual(["alpha", "bravo"]);
    expect(await presenceOf(b, "fleet")).toEqual(["alpha", "bravo"]);
    const r = new RedisClient(redis.url);
    try {
      const members = (await r.send("ZRANGE", ["skynode:v3:presence:fleet", "0", "-1"])) as string[];
      expect(members.sort()).toEqual(["alpha", "bravo"]);
      const ttl = Number(await r.send("PTTL", ["skynode:v3:presence:fleet"]));
      expect(ttl).toBeGreaterThan(3500_000);
      expect(ttl).toBeLessThanOrEqual(3600_000);
    } finally {
      r.close();
    }

    // Leaving on B: alpha on A sees it, and the set forgets bravo.
    onB.close();
    await onA.next((f) => f.msg_type === "presence" && f.payload.event === "leave" && f.from_id === "bravo");
    expect(await presenceOf(a, "fleet")).toEqual(["alpha"]);
  });

  test("the same client id on another instance: the newer connection wins there", async () => {
    const old = await member(a, "dup", "same");
    const watcher = await member(a, "dup", "watch");
    const newer = await member(b, "dup", "same");
    expect(await old.waitClosed()).toEqual({ code: 4001, reason: "replaced by a newer connection with this client_id" });
    // Direct messages from A now reach the newer one on B (its presence snapshot said it was reachable).
    watcher.send({ msg_type: "msg", target: "direct", to_id: "same", msg: "probe" });
    await newer.next((f) => f.msg === "probe");
    expect(await presenceOf(a, "dup")).toEqual(["same", "watch"]);
  });
});

describe("topics across hub instances", () => {
  test("a publish on one instance reaches subscribers on the other; server_logs carry each instance's lines", async () => {
    const sub = await TestClient.connect(`${b.ws}/wss?token=${b.token("bob", "admin")}`);
    const pub = await TestClient.connect(`${a.ws}/wss?token=${a.token("alice", "operator")}`);
    clients.push(sub, pub);
    await sub.request({ id: "s", action: "subscribe", topic: "fleet/news" });
    await sub.request({ id: "l", action: "subscribe", topic: "server_logs" });
    // The subscribe's ack means the other instances' deliveries flow: no retry needed.
    await pub.request({ id: "p", action: "publish", topic: "fleet/news", data: { name: "n", type: "t", data: "hello" } });
    await sub.next((f) => f.kind === "message" && f.topic === "fleet/news");
    expect(sub.received.find((f) => f.kind === "message" && f.topic === "fleet/news")).toMatchObject({ from: "alice", data: { name: "n", type: "t", data: "hello" } });

    // A failed sign-in on A is logged by A; B's subscriber reads it, marked with A's instance.
    const name = `ghost-${crypto.randomUUID().slice(0, 8)}`;
    await fetch(`${a.http}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password: "wrong-password" }) });
    const line = await sub.next((f) => f.kind === "message" && f.topic === "server_logs" && f.data.data?.name === name);
    expect(line.data).toMatchObject({ name: "log", type: "warn", data: { msg: "failed sign-in", instance: expect.stringMatching(/^hub-/) } });
  });
});

describe("an instance shutting down", () => {
  test("its clients leave their groups on the other instances too, and their sockets close with 1001", async () => {
    const stay = await member(a, "bye", "stay");
    const go = await member(b, "bye", "go");
    await stay.next((f) => f.msg_type === "presence" && f.payload.event === "join" && f.from_id === "go");
    expect(await b.stop()).toBe(0);
    expect(await go.waitClosed()).toMatchObject({ code: 1001 });
    await stay.next((f) => f.msg_type === "presence" && f.payload.event === "leave" && f.from_id === "go");
    expect(await presenceOf(a, "bye")).toEqual(["stay"]);
  });
});
