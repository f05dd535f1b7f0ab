// Hub role scaled out (issue 7): two hub processes sharing a real Redis; a SkyNode on one, users on the other.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { Operator } from "../helpers/operator";
import { startRedis, type TestRedis } from "../helpers/redis";
import { startSkyNodeProcess, type SkyNodeProcess } from "../helpers/skynode-process";
import { startServer, tempDir, type TestServer } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";

let redis: TestRedis;
const servers: TestServer[] = [];
const nodes: SkyNodeProcess[] = [];
const clients: { close(): void }[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...nodes.map((n) => n.stop()), ...servers.map((s) => s.stop())]);
  await redis.stop();
});

/** A hub instance on the shared Redis; instances after the first share its signing key, as instances behind one
 * address share their secrets. */
async function instance(): Promise<TestServer> {
  const dataDir = tempDir();
  if (servers[0]) copyFileSync(join(servers[0].dataDir, "signing.key"), join(dataDir, "signing.key"));
  const config = `[backplane]\nredis_url = "${redis.url}"\nroute_ttl_ms = 900\nrpc_timeout_ms = 2000\n`;
  const s = await startServer({ dataDir, config, args: ["--role", "hub"] });
  servers.push(s);
  return s;
}

describe("two hub instances over Redis", () => {
  test("events and commands cross instances; a crashed instance's telescope is not_found until its SkyNode reconnects elsewhere", async () => {
    const a = await instance();
    const b = await instance();
    const node = await startSkyNodeProcess(b, "t1");
    nodes.push(node);

    // A viewer on A sees the telescope whose SkyNode is on B: retained state first, then live events.
    const alice = await Operator.connect(a, "alice", "operator", "t1");
    clients.push(alice);
    const snap = await alice.snapshot("event_telescope_snapshot", () => true, undefined, 10_000);
    expect(snap).toHaveProperty("pointing");
    const watcherOnB = await Operator.connect(b, "watcher", "viewer", "t1");
    clients.push(watcherOnB);

    // A command from A reaches the SkyNode on B; its result and the lease come back to A.
    const leaseId = await alice.acquire();
    const lease = await alice.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId);
    expect(lease.lease.holder).toBe("alice");
    const move = await alice.run({ command_type: "focuser.move_relative", delta_um: 0 });
    expect(move.status).toBe("ok");
    // B's own subscribers see A's user's command too, with the origin B filled from what A vouched for.
    const seenOnB = await watcherOnB.commands.next((f) => f.kind === "event_command" && f.command.command_id === move.command_id);
    expect(seenOnB.command.origin).toMatchObject({ kind: "user", sub: "alice", role: "operator" });
    // The lease is B's to enforce: another user on A is refused by it.
    const bob = await Operator.connect(a, "bob", "operator", "t1");
    clients.push(bob);
    expect((await bob.publish({ command_type: "focuser.move_relative", delta_um: 0 })).answer).toMatchObject({ kind: "error", code: "forbidden" });
    // A cancel from A for a command on B is routed too (this one has finished already: conflict, from B).
    const cancel = await alice.commands.request({ id: "cx", kind: "cancel_command", command_id: move.command_id });
    expect(cancel).toMatchObject({ kind: "error", code: "conflict" });

    // B crashes: its routing entry expires and the telescope is not_found on A...
    b.proc.kill("SIGKILL");
    await b.proc.exited;
    servers.splice(servers.indexOf(b), 1);
    const deadline = Date.now() + 5000;
    let answer: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      answer = (await alice.publish({ command_type: "focuser.move_relative", delta_um: 0 })).answer;
      if (answer.code === "not_found") break;
      await Bun.sleep(100);
    }
    expect(answer).toMatchObject({ kind: "error", code: "not_found" });

    // ...until its SkyNode reconnects to another instance.
    await node.stop();
    nodes.splice(nodes.indexOf(node), 1);
    const again = await startSkyNodeProcess(a, "t1");
    nodes.push(again);
    await alice.acquire();
    expect((await alice.run({ command_type: "focuser.move_relative", delta_um: 0 })).status).toBe("ok");
  }, 60_000);

  test("telescope logs and snapshots published on one instance reach subscribers on every instance", async () => {
    const [a, b] = servers.length >= 2 ? servers : [await instance(), await instance()];
    const token = a!.token("node-t9", "skynode", ["t9"]);
    const publisher = await TestClient.connect(`${a!.ws}/v1/ws/stream?token=${token}`);
    const viewer = await TestClient.connect(`${b!.ws}/v1/ws/stream?token=${b!.token("v", "viewer")}`);
    clients.push(publisher, viewer);
    expect(await viewer.request({ id: "s", kind: "subscribe_stream", subscription_id: "all", filter: { telescope_uid: "t9" } })).toMatchObject({ kind: "ack" });
    publisher.send({ kind: "publish_telescope_log", telescope_uid: "t9", entry: { ts: 1, level: "info", msg: "hello from A" } });
    publisher.send({ kind: "publish_device_snapshot", telescope_uid: "t9", device_uid: "cam", snapshot: { device_type: "camera", instrument_uid: "imager", state: "idle" } });
    expect((await viewer.next((f) => f.kind === "event_telescope_log")).entry.msg).toBe("hello from A");
    expect((await viewer.next((f) => f.kind === "event_device_snapshot")).snapshot.state).toBe("idle");
    expect((await viewer.next((f) => f.kind === "event_instrument_snapshot")).instrument_uid).toBe("imager");
  }, 30_000);
});
