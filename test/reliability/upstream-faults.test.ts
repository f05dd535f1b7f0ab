// The upstream hub killed (SIGKILL) mid-exposure and restarted on its port and data dir: the federated appliance
// stays up and finishes the exposure, its telescope snapshot shows the link down then up, and the exposure's result
// and the lease's events reach the hub's journal once; the image's index row exists once on the appliance.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { TestClient, type Frame } from "../helpers/ws-client";

/** Short enough to expire while the hub is down (a lease event the hub must learn from the appliance). */
const LEASE_S = 6;

const newDir = freshDirs();
const live: TestServer[] = [];
const clients: { close(): void }[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(live.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null).map((s) => s.stop()));
});

async function hub(opts: { dataDir?: string; port?: number } = {}): Promise<TestServer> {
  const s = await startServer({ dataDir: opts.dataDir ?? newDir(), args: ["--role", "hub", ...(opts.port ? ["--port", String(opts.port)] : [])] });
  live.push(s);
  return s;
}

async function operator(server: TestServer, sub: string, role: "operator" | "viewer" = "operator"): Promise<Operator> {
  const op = await Operator.connect(server, sub, role);
  clients.push(op);
  return op;
}

function journalOf(dataDir: string): { seq: number; kind: string; command_id: string | null; body: Record<string, any> }[] {
  const db = new Database(join(dataDir, "skynode.db"), { readonly: true });
  try {
    const rows = db.query("SELECT seq, kind, command_id, body FROM journal WHERE telescope_uid = 'sim-1' ORDER BY seq").all() as { seq: number; kind: string; command_id: string | null; body: string }[];
    return rows.map((r) => ({ ...r, body: JSON.parse(r.body) }));
  } finally {
    db.close();
  }
}

describe("the upstream hub killed mid-exposure", () => {
  test("the appliance finishes the exposure and says the link is down then up; the hub gets the result and the lease events once; one image row", async () => {
    const h = await hub();
    const token = h.token("appliance-sim-1", "skynode", ["sim-1"]);
    const config = `${FAST_SIM}\n[upstream]\nurl = "${h.ws}"\ntoken = "${token}"\nmax_backoff_s = 0.5\n`;
    const a = await startServer({ config, dataDir: newDir() });
    live.push(a);
    const local = await operator(a, "local", "viewer");
    const alice = await operator(h, "alice");
    await alice.snapshot("event_telescope_snapshot", (s) => s.upstream?.state === "connected", undefined, 15_000);

    const acquire = await alice.publish({ command_type: "manual_control_lease.acquire", duration_s: LEASE_S, purpose: "test" });
    const leaseId = (await alice.result(acquire.command_id)).data.lease_id as string;
    const exposure = await alice.publish({ command_type: "camera.exposure.start", duration_s: 3, binning: 1 });
    expect(exposure.answer.kind).toBe("ack");
    await local.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");

    h.proc.kill("SIGKILL");
    await h.proc.exited;
    alice.close();

    // The appliance stays up and says the link is down; the exposure completes there (its own hub holds the
    // lease for upstream/alice: the hub's absence revokes nothing), and the lease then expires there.
    const down = await local.snapshot("event_telescope_snapshot", (s) => s.upstream?.state === "disconnected", undefined, 10_000);
    expect(down.upstream.last_error).toBeTruthy();
    expect((await fetch(`${a.http}/healthz`)).status).toBe(200);
    const result = await local.result(exposure.command_id, 15_000);
    expect(result.status).toBe("ok");
    const imageId = result.data.image_id as string;
    await local.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === leaseId && f.lease.state === "expired", 15_000);
    // Still down after several reconnect attempts: the snapshot keeps saying since when.
    const stillDown = await local.snapshot("event_telescope_snapshot", (s) => s.upstream?.state === "disconnected" && s.upstream.since !== undefined, undefined, 10_000);
    expect(stillDown.upstream.since).toBe(down.upstream.since);
    expect(stillDown.upstream.retry_ms).toBeGreaterThan(0);

    // Back on the same port and data dir: the link comes up by itself.
    const h2 = await hub({ dataDir: h.dataDir, port: h.port });
    const up = await local.snapshot("event_telescope_snapshot", (s) => s.upstream?.state === "connected", undefined, 15_000);
    expect(Date.parse(up.upstream.since)).toBeGreaterThan(Date.parse(down.upstream.since));

    // The hub's journal, replayed from the start: the exposure's result once, the lease's expiry from the appliance.
    const watcher = await TestClient.connect(`${h2.ws}/v1/ws/commands?token=${h2.token("alice", "viewer")}`);
    clients.push(watcher);
    await watcher.request({ id: "s", kind: "subscribe_commands", subscription_id: "s", since_seq: 0 });
    await watcher.next((f) => f.kind === "event_command_result" && f.result.command_id === exposure.command_id, 20_000);
    // A later command round-trips (a new lease, then a move): by then anything replayed twice would have arrived.
    const alice2 = await operator(h2, "alice");
    await alice2.acquire(60);
    const after = await alice2.run({ command_type: "focuser.move_relative", delta_um: 10 });
    expect(after.status).toBe("ok");
    await watcher.next((f) => f.kind === "event_command_result" && f.result.command_id === after.command_id);
    const results = watcher.received.filter((f: Frame) => f.kind === "event_command_result");
    expect(results.filter((f) => f.result.command_id === exposure.command_id)).toHaveLength(1);
    expect(new Set(results.map((f) => f.result.command_id)).size).toBe(results.length);

    expect(await h2.stop()).toBe(0);
    expect(await a.stop()).toBe(0);
    const hubJournal = journalOf(h.dataDir);
    const hubResults = hubJournal.filter((e) => e.kind === "command_result").map((e) => e.command_id);
    expect(new Set(hubResults).size).toBe(hubResults.length);
    expect(hubResults.filter((id) => id === exposure.command_id)).toHaveLength(1);
    expect(hubJournal.find((e) => e.command_id === exposure.command_id && e.kind === "command_result")!.body.data.image_id).toBe(imageId);
    // Each state of the first lease once: active, then expired.
    const leaseStates = hubJournal.filter((e) => e.kind === "lease" && e.body.lease_id === leaseId).map((e) => e.body.state);
    expect(leaseStates).toEqual(["active", "expired"]);

    const db = new Database(join(a.dataDir, "skynode.db"), { readonly: true });
    try {
      expect(db.query("SELECT image_id FROM images WHERE telescope_uid = 'sim-1'").all()).toEqual([{ image_id: imageId }]);
    } finally {
      db.close();
    }
    const applianceResults = journalOf(a.dataDir).filter((e) => e.kind === "command_result" && e.command_id === exposure.command_id);
    expect(applianceResults).toHaveLength(1);
  }, 90_000);
});
