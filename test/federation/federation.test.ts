// Federation upstream (issue 7): an appliance process attached as the SkyNode of a hub process; users of the hub
// command it as if on its LAN, under the one lease of the telescope; nothing is lost when either side dies.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { SkynodeClient } from "../../app/client/client";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";
import { TestClient, type Frame } from "../helpers/ws-client";

const live: TestServer[] = [];
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(live.splice(0).map((s) => s.stop()));
});

async function hub(opts: { dataDir?: string; port?: number } = {}): Promise<TestServer> {
  const s = await startServer({ dataDir: opts.dataDir, args: ["--role", "hub", ...(opts.port ? ["--port", String(opts.port)] : [])] });
  live.push(s);
  return s;
}

async function appliance(upstream: TestServer, dataDir?: string): Promise<TestServer> {
  const token = upstream.token("appliance-sim-1", "skynode", ["sim-1"]);
  const config = `${FAST_SIM}\n[upstream]\nurl = "${upstream.ws}"\ntoken = "${token}"\nmax_backoff_s = 0.5\n`;
  const s = await startServer({ config, dataDir });
  live.push(s);
  return s;
}

async function operator(server: TestServer, sub: string, role: "operator" | "owner" | "viewer" = "operator"): Promise<Operator> {
  const op = await Operator.connect(server, sub, role);
  clients.push(op);
  return op;
}

/** The hub's view of the appliance: its telescope snapshot saying the upstream link is up. */
const linkedUp = (op: Operator, timeoutMs = 15_000) => op.snapshot("event_telescope_snapshot", (s) => s.upstream?.state === "connected", undefined, timeoutMs);

const M31 = { type: "named", name: "M31" };

describe("appliance federated to a hub", () => {
  test("hub users see its snapshots, take the one lease, slew, expose and fetch the image; local users are held to the same lease", async () => {
    const h = await hub();
    const a = await appliance(h);
    const alice = await operator(h, "alice");
    const snap = await linkedUp(alice);
    expect(snap.upstream.url).toBe(h.ws);
    await alice.snapshot("event_device_snapshot", (s) => s.device_type === "mount", "mount");

    const leaseId = await alice.acquire();
    const leaseEvent = await alice.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId);
    expect(leaseEvent.lease.holder).toBe("alice");

    // On the appliance the same lease is held by the hub's alice: its own users are refused, as on the hub.
    const bob = await operator(a, "bob");
    const localLease = await bob.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId);
    expect(localLease.lease.holder).toBe("upstream/alice");
    const refused = await bob.publish({ command_type: "mount.point", target: M31 });
    expect(refused.answer).toMatchObject({ kind: "error", code: "forbidden" });
    const grab = await bob.publish({ command_type: "manual_control_lease.acquire", duration_s: 60 });
    expect(grab.answer).toMatchObject({ kind: "error", code: "conflict" });

    const slew = await alice.run({ command_type: "mount.point", target: M31 });
    expect(slew.status).toBe("ok");
    const exposure = await alice.run({ command_type: "camera.exposure.start", duration_s: 0.2, binning: 1 });
    expect(exposure.status).toBe("ok");
    const imageId = exposure.data.image_id as string;

    // The appliance's journal holds the hub's commands under the hub user's name.
    const journal = await TestClient.connect(`${a.ws}/v1/ws/commands?token=${a.token("audit", "viewer")}`);
    clients.push(journal);
    await journal.request({ id: "j", kind: "subscribe_commands", subscription_id: "j", since_seq: 0 });
    const cmd = await journal.next((f) => f.kind === "event_command" && f.command.command_id === slew.command_id);
    expect(cmd.command.origin).toMatchObject({ kind: "hub", sub: "upstream/alice", role: "operator" });

    // The image through the hub: the appliance answers the relayed direct request from its own files.
    const client = await SkynodeClient.connect({ url: h.ws, token: h.token("alice", "viewer") });
    clients.push(client);
    const fetched = await client.request("sim-1", "image.fetch", { image_id: imageId }, { encoding: "binary" });
    const stored = new Uint8Array(await (await fetch(`${a.http}/v1/images/${imageId}.fits?token=${a.token("v", "viewer")}`)).arrayBuffer());
    expect(fetched.bytes.byteLength).toBe(stored.byteLength);
    expect(Bun.hash(fetched.bytes)).toBe(Bun.hash(stored));

    // A local lease is the hub's to see too, under the appliance user's name.
    await alice.release(leaseId);
    const bobLease = await bob.acquire(60);
    const upstreamView = await alice.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === bobLease, 10_000);
    expect(upstreamView.lease.holder).toBe("sim-1/bob");
    const blocked = await alice.publish({ command_type: "mount.point", target: M31 });
    expect(blocked.answer).toMatchObject({ kind: "error", code: "forbidden" });
  }, 60_000);

  test("the hub killed mid-session and restarted: every result produced meanwhile arrives exactly once", async () => {
    const h = await hub();
    const port = h.port;
    await appliance(h);
    const alice = await operator(h, "alice");
    await linkedUp(alice);
    await alice.acquire();
    // Two commands still running when the hub dies; a third is sent after it is back.
    const exposure = await alice.publish({ command_type: "camera.exposure.start", duration_s: 1.5, binning: 1 });
    const slew = await alice.publish({ command_type: "mount.point", target: { type: "equatorial", ra_deg: 120, dec_deg: 40 } });
    expect([exposure.answer, slew.answer]).toMatchObject([{ kind: "ack" }, { kind: "ack" }]);
    await alice.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
    h.proc.kill("SIGKILL");
    await h.proc.exited;
    live.splice(live.indexOf(h), 1);
    alice.close();
    // Down for longer than the commands take: their results wait in the appliance's journal.
    await Bun.sleep(2500);

    const h2 = await hub({ dataDir: h.dataDir, port });
    const watcher = await TestClient.connect(`${h2.ws}/v1/ws/commands?token=${h2.token("alice", "operator")}`);
    clients.push(watcher);
    await watcher.request({ id: "s", kind: "subscribe_commands", subscription_id: "s", since_seq: 0 });
    const ids = [exposure.command_id, slew.command_id];
    for (const id of ids) await watcher.next((f) => f.kind === "event_command_result" && f.result.command_id === id, 20_000);
    // A later command round-trips too, and by then any duplicate would have arrived.
    const alice2 = await operator(h2, "alice");
    const after = await alice2.run({ command_type: "focuser.move_relative", delta_um: 10 });
    expect(after.status).toBe("ok");
    await watcher.next((f) => f.kind === "event_command_result" && f.result.command_id === after.command_id);
    const results = watcher.received.filter((f: Frame) => f.kind === "event_command_result");
    for (const id of ids) {
      const mine = results.filter((f) => f.result.command_id === id);
      expect(mine.length).toBe(1);
      expect(mine[0]!.result.status).toBe("ok");
    }
    expect(new Set(results.map((f) => f.seq)).size).toBe(results.length);
  }, 60_000);

  test("the appliance killed -9 during an exposure and restarted: the command's final state is journalled on both sides, no half-written file", async () => {
    const h = await hub();
    const a = await appliance(h);
    const alice = await operator(h, "alice");
    await linkedUp(alice);
    await alice.acquire();
    const exposure = await alice.publish({ command_type: "camera.exposure.start", duration_s: 5, binning: 1 });
    expect(exposure.answer.kind).toBe("ack");
    await alice.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
    a.proc.kill("SIGKILL");
    await a.proc.exited;
    live.splice(live.indexOf(a), 1);

    const a2 = await appliance(h, a.dataDir);
    const result = await alice.result(exposure.command_id, 20_000);
    expect(result).toMatchObject({ status: "error", error: { code: "internal" } });
    expect(result.error.message).toContain("interrupted");

    const journal = await TestClient.connect(`${a2.ws}/v1/ws/commands?token=${a2.token("audit", "viewer")}`);
    clients.push(journal);
    await journal.request({ id: "j", kind: "subscribe_commands", subscription_id: "j", since_seq: 0 });
    const entries = [
      await journal.next((f) => f.kind === "event_command" && f.command.command_id === exposure.command_id),
      await journal.next((f) => f.kind === "event_command_result" && f.result.command_id === exposure.command_id),
    ];
    expect(entries[1]!.result.status).toBe("error");
    expect(entries[1]!.seq).toBeGreaterThan(entries[0]!.seq);
    const imagesDir = join(a.dataDir, "images");
    const leftovers = readdirSafe(imagesDir).filter((f) => f.endsWith(".part"));
    expect(leftovers).toEqual([]);
    // Exactly once on the hub too.
    await Bun.sleep(300);
    expect(alice.commands.received.filter((f) => f.kind === "event_command_result" && f.result.command_id === exposure.command_id).length).toBe(1);
  }, 60_000);
});

describe("hub role", () => {
  test("a SkyNode token for one telescope cannot publish, answer or hold leases for another", async () => {
    const h = await hub();
    const t1 = h.token("node-t1", "skynode", ["t1"]);
    const stream = await TestClient.connect(`${h.ws}/v1/ws/stream?token=${t1}`);
    const commands = await TestClient.connect(`${h.ws}/v1/ws/commands?token=${t1}`);
    clients.push(stream, commands);
    const lease = { state: "active", lease_id: "L1", holder: "mallory", expires_at: new Date(Date.now() + 60_000).toISOString() };
    const attempts: [TestClient, Record<string, unknown>][] = [
      [stream, { kind: "publish_telescope_snapshot", telescope_uid: "t2", snapshot: { name: "fake" } }],
      [stream, { kind: "publish_device_snapshot", telescope_uid: "t2", device_uid: "mount", snapshot: {} }],
      [stream, { kind: "publish_telescope_log", telescope_uid: "t2", entry: { ts: 1, level: "info", msg: "fake" } }],
      [commands, { kind: "publish_command_result", telescope_uid: "t2", result: { command_id: "x", status: "ok" } }],
      [commands, { kind: "publish_manual_control_lease", telescope_uid: "t2", lease }],
    ];
    for (const [i, [ws, msg]] of attempts.entries()) {
      expect(await ws.request({ ...msg, id: `a${i}` })).toMatchObject({ kind: "error", code: "forbidden" });
    }
    // Its own telescope is fine.
    expect(await commands.request({ id: "own", kind: "publish_manual_control_lease", telescope_uid: "t1", lease })).toMatchObject({ kind: "ack" });
  });

  test("an upstream token for another telescope stops the appliance at start with a clear message", async () => {
    const h = await hub();
    const token = h.token("x", "skynode", ["other-1"]);
    const err = await startServer({ config: `[upstream]\nurl = "${h.ws}"\ntoken = "${token}"\n` }).then(
      (s) => (live.push(s), null),
      (e: Error) => e,
    );
    expect(err?.message).toContain("token is for telescope other-1");
  });
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return [];
  }
}
