// The automated task queue over REST, paused and resumed by a manual lease and by unsafe conditions; lease expiry
// and restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

let server: TestServer;
let op: Operator;
let operatorToken: string;
let ownerToken: string;

beforeAll(async () => {
  server = await startServer({ config: FAST_SIM });
  op = await Operator.connect(server, "carol");
  operatorToken = server.token("carol", "operator");
  ownerToken = server.token("olga", "owner");
});
afterAll(async () => {
  op.close();
  expect(await server.stop()).toBe(0);
});

const api = (path: string, token: string | null, init: RequestInit = {}) =>
  fetch(`${server.http}${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json", ...(init.headers ?? {}) },
  });

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  // Polling a REST resource is the event here (the task's state lives behind GET).
  for (;;) {
    last = await get();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await Bun.sleep(50);
  }
}
const task = async (id: string) => (await (await api(`/v1/tasks/${id}`, operatorToken)).json()) as Record<string, any>;

describe("REST /v1/tasks", () => {
  test("authentication, roles and validation", async () => {
    expect((await api("/v1/tasks", null)).status).toBe(401);
    const viewer = server.token("vic", "viewer");
    expect((await api("/v1/tasks", viewer)).status).toBe(200);
    const spec = { target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 0.1, count: 1 }] };
    const refused = await api("/v1/tasks", viewer, { method: "POST", body: JSON.stringify(spec) });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe("forbidden");
    const elsewhere = server.token("carol", "operator", ["other-scope"]);
    expect((await api("/v1/tasks", elsewhere)).status).toBe(403);
    const bad = await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify({ ...spec, exposures: [{ filter_id: "L", duration_s: -1, count: 1 }] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe("invalid");
    const badFilter = await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify({ ...spec, exposures: [{ filter_id: "X", duration_s: 1, count: 1 }] }) });
    expect(badFilter.status).toBe(400);
    expect(((await badFilter.json()) as any).error.message).toContain("no filter");
    const notJson = await api("/v1/tasks", operatorToken, { method: "POST", body: "{" });
    expect(notJson.status).toBe(400);
    expect((await api("/v1/tasks/nope", operatorToken)).status).toBe(404);
    expect((await api("/v1/tasks/nope", operatorToken, { method: "DELETE" })).status).toBe(404);
    expect((await api("/v1/sim/inputs", operatorToken, { method: "PUT", body: JSON.stringify({ roof_open: false }) })).status).toBe(403);
  });

  test("a task runs when no lease is held, is paused by a lease and resumes after release", async () => {
    const spec = { name: "m31-lrgb", target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 0.4, count: 4, binning: 2 }, { filter_id: "R", duration_s: 0.2, count: 1, binning: 2 }] };
    const created = await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify(spec) });
    expect(created.status).toBe(201);
    const { task_id } = (await created.json()) as { task_id: string };
    // Running, with progress in the telescope snapshot.
    const snap = await op.snapshot("event_telescope_snapshot", (s) => s.current_task?.task_id === task_id && s.current_task.progress.exposures_done >= 1, undefined, 20_000);
    expect(snap.mode).toBe("automatic");
    // A lease pauses it: the exposure in progress is aborted cleanly.
    const lease = await op.acquire(600);
    const paused = await task(task_id);
    expect(paused.state).toBe("paused");
    expect(paused.progress.message).toContain("lease");
    const doneAtPause = paused.progress.exposures_done;
    const cam = await op.snapshot("event_device_snapshot", () => true, "camera");
    expect(cam.state).toBe("idle");
    await Bun.sleep(600); // nothing runs while the lease is held (an exposure is 0.4 s)
    expect((await task(task_id)).progress.exposures_done).toBe(doneAtPause);
    await op.release(lease);
    const done = await until("task done", () => task(task_id), (t) => t.state === "done");
    expect(done.progress.exposures_done).toBe(5);
    expect(done.progress.image_ids.length).toBe(5);
    expect(new Set(done.progress.image_ids).size).toBe(5);
  });

  test("unsafe weather pauses the automation and stops its exposure; safe again resumes it", async () => {
    const spec = { target: { type: "named", name: "M31" }, exposures: [{ filter_id: "G", duration_s: 0.3, count: 3, binning: 2 }] };
    const { task_id } = (await (await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify(spec) })).json()) as { task_id: string };
    await until("task running", () => task(task_id), (t) => t.state === "running");
    const unsafe = op.snapshot("event_constraint_status_snapshot", (s) => s.safe === false);
    const put = await api("/v1/sim/inputs", ownerToken, { method: "PUT", body: JSON.stringify({ weather_safe: false }) });
    expect(put.status).toBe(200);
    const status = await unsafe;
    expect(status.constraints.find((c: any) => c.name === "weather")).toMatchObject({ value: "unsafe", satisfied: false });
    const paused = await until("task paused", () => task(task_id), (t) => t.state === "paused");
    expect(paused.progress.message).toContain("weather");
    const tel = await op.snapshot("event_telescope_snapshot", (s) => s.safe === false);
    expect(tel.current_task).toBeNull();
    // Manual exposures are refused while unsafe, too.
    const lease = await op.acquire(60);
    const refused = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 1 });
    expect(refused.error.code).toBe("conflict");
    await op.release(lease);
    await api("/v1/sim/inputs", ownerToken, { method: "PUT", body: JSON.stringify({ weather_safe: true }) });
    const done = await until("task done", () => task(task_id), (t) => t.state === "done");
    expect(done.progress.exposures_done).toBe(3);
  });

  test("DELETE cancels the running task and removes a queued one", async () => {
    const long = { target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 30, count: 2 }] };
    const a = (await (await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify(long) })).json()) as { task_id: string };
    const b = (await (await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify(long) })).json()) as { task_id: string };
    await op.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
    // The queued one first: once the running one is gone, the queue starts the next at once.
    const delB = await api(`/v1/tasks/${b.task_id}`, operatorToken, { method: "DELETE" });
    expect(delB.status).toBe(200);
    expect((await api(`/v1/tasks/${b.task_id}`, operatorToken)).status).toBe(404);
    const del = await api(`/v1/tasks/${a.task_id}`, operatorToken, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(((await del.json()) as { state: string }).state).toBe("canceled");
    expect(((await (await api(`/v1/tasks/${a.task_id}`, operatorToken)).json()) as { state: string }).state).toBe("canceled");
    const cam = await op.snapshot("event_device_snapshot", (s) => s.state === "idle", "camera");
    expect(cam.state).toBe("idle");
  });
});

describe("leases", () => {
  test("a lease expires on time and the operator is forbidden afterwards", async () => {
    const lease = await op.acquire(1);
    const expired = await op.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === lease && f.lease.state === "expired", 5000);
    expect(expired.lease.holder).toBe("carol");
    const { answer } = await op.publish({ command_type: "focuser.move_relative", delta_um: 0 });
    expect(answer.code).toBe("forbidden");
  });

  test("an active lease survives a restart: the SkyNode learns it back from the hub before running any task", async () => {
    const lease = await op.acquire(600);
    const spec = { target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 0.1, count: 2, binning: 2 }] };
    const { task_id } = (await (await api("/v1/tasks", operatorToken, { method: "POST", body: JSON.stringify(spec) })).json()) as { task_id: string };
    op.close();
    expect(await server.stop()).toBe(0);
    server = await startServer({ config: FAST_SIM, dataDir: server.dataDir });
    op = await Operator.connect(server, "carol");
    const tel = await op.snapshot("event_telescope_snapshot", (s) => s.mode === "manual");
    expect(tel.lease.lease_id).toBe(lease);
    // Still held: the queued task waits (a SkyNode that forgot the lease would have started it at once).
    await Bun.sleep(1000);
    const waiting = await task(task_id);
    expect(waiting.progress.exposures_done).toBe(0);
    expect(waiting.state).not.toBe("running");
    const renew = await op.run({ command_type: "manual_control_lease.renew", lease_id: lease, duration_s: 60 });
    expect(renew.status).toBe("ok");
    await op.release(lease);
    const done = await until("task done after release", () => task(task_id), (t) => t.state === "done");
    expect(done.progress.image_ids.length).toBe(2);
  });
});
