// Storage is bounded: images by age and by total size (file and index row together, oldest first), the journal by
// age (keeping open commands, the newest lease entry and the newest entry of each telescope), and the task queue
// by a cap. Each through the real server: start-up pass, the cap after a new image, REST and WebSocket answers.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../app/store/database";
import { ImageIndex } from "../../app/store/images";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { until } from "../helpers/poll";

const servers = new Set<TestServer>();
afterAll(async () => {
  for (const s of servers) await s.stop();
});
const fresh = freshDirs();

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SMALL_CAMERA = FAST_SIM.replace("width = 1024\nheight = 768", "width = 256\nheight = 192");

async function serve(config: string, dataDir: string): Promise<TestServer> {
  const s = await startServer({ config, dataDir });
  servers.add(s);
  return s;
}

async function stop(s: TestServer): Promise<number> {
  servers.delete(s);
  return s.stop();
}


/** Images stored before the server starts, as its image writer would have stored them `age_ms` ago. */
function seedImages(dataDir: string, images: { id: string; age_ms: number; bytes: number }[]): Map<string, string> {
  const now = Date.now();
  const dir = join(dataDir, "images", "sim-1", "fixtures");
  mkdirSync(dir, { recursive: true });
  const db = openDatabase(dataDir);
  const index = new ImageIndex(db);
  const paths = new Map<string, string>();
  for (const im of images) {
    const path = join(dir, `${im.id}.fits`);
    writeFileSync(path, new Uint8Array(im.bytes));
    index.add({ image_id: im.id, telescope_uid: "sim-1", path, created_at: now - im.age_ms, meta: { bytes: im.bytes } });
    paths.set(im.id, path);
  }
  db.close();
  return paths;
}

const fetchImage = (server: TestServer, id: string) =>
  fetch(`${server.http}/v1/images/${id}.fits`, { headers: { authorization: `Bearer ${server.token("vera", "viewer")}` } }).then((r) => r.status);

function indexedIds(dataDir: string): string[] {
  const db = new Database(join(dataDir, "skynode.db"), { readonly: true });
  try {
    return (db.query("SELECT image_id FROM images ORDER BY created_at").all() as { image_id: string }[]).map((r) => r.image_id);
  } finally {
    db.close();
  }
}

describe("image retention", () => {
  test("[images] keep_days: images older than that go at start-up, file and row together", async () => {
    const dataDir = fresh();
    const paths = seedImages(dataDir, [
      { id: "a-10d", age_ms: 10 * DAY, bytes: 1000 },
      { id: "b-5d", age_ms: 5 * DAY, bytes: 1000 },
      { id: "c-2d", age_ms: 2 * DAY, bytes: 1000 },
      { id: "d-1h", age_ms: HOUR, bytes: 1000 },
    ]);
    const server = await serve(`${FAST_SIM}\n[images]\nkeep_days = 3\n`, dataDir);
    await until("the old images gone", async () => (await fetchImage(server, "a-10d")) === 404 && (await fetchImage(server, "b-5d")) === 404);
    expect(await fetchImage(server, "c-2d")).toBe(200);
    expect(await fetchImage(server, "d-1h")).toBe(200);
    expect(existsSync(paths.get("a-10d")!)).toBe(false);
    expect(existsSync(paths.get("b-5d")!)).toBe(false);
    expect(existsSync(paths.get("c-2d")!)).toBe(true);
    expect(await stop(server)).toBe(0);
    expect(indexedIds(dataDir)).toEqual(["c-2d", "d-1h"]);
  }, 60_000);

  test("[images] max_total_gb: the oldest go until the rest fit, at start-up and after each new image", async () => {
    const dataDir = fresh();
    const paths = seedImages(
      dataDir,
      [5, 4, 3, 2, 1].map((h) => ({ id: `s-${h}h`, age_ms: h * HOUR, bytes: 100_000 })),
    );
    const capGb = 350_000 / 1024 ** 3;
    const server = await serve(`${SMALL_CAMERA}\n[images]\nmax_total_gb = ${capGb}\n`, dataDir);
    await until("the two oldest gone", async () => (await fetchImage(server, "s-5h")) === 404 && (await fetchImage(server, "s-4h")) === 404);
    for (const id of ["s-3h", "s-2h", "s-1h"]) expect(await fetchImage(server, id)).toBe(200);
    expect(existsSync(paths.get("s-5h")!)).toBe(false);

    // A new image (about 100 kB) takes the total past the cap again: the oldest left goes.
    const op = await Operator.connect(server, "ida");
    await op.acquire(600);
    const shot = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 1 });
    expect(shot).toMatchObject({ status: "ok", data: { stored: true } });
    await until("the oldest left gone", async () => (await fetchImage(server, "s-3h")) === 404);
    expect(existsSync(paths.get("s-3h")!)).toBe(false);
    for (const id of ["s-2h", "s-1h", shot.data.image_id]) expect(await fetchImage(server, id)).toBe(200);
    op.close();
    expect(await stop(server)).toBe(0);
    expect(indexedIds(dataDir)).toEqual(["s-2h", "s-1h", shot.data.image_id]);
  }, 60_000);
});

describe("journal retention", () => {
  test("[store] journal_keep_days: old entries go, but not an open command, the newest lease entry or the newest entry", async () => {
    const dataDir = fresh();
    const now = Date.now();
    const old = now - 10 * DAY;
    const record = (uid: string, id: string) => ({
      telescope_uid: uid,
      command_id: id,
      command: { command_type: "focuser.move_relative", delta_um: 10 },
      origin: { kind: "user", sub: "old", client: "c1", role: "operator" },
    });
    const lease = (id: string) => ({ state: "released", lease_id: id, holder: "old", expires_at: new Date(old + HOUR).toISOString() });
    const result = (id: string) => ({ command_id: id, status: "ok", data: {} });
    const db = openDatabase(dataDir);
    const insert = db.query("INSERT INTO journal (telescope_uid, seq, kind, command_id, body, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    const rows: [string, number, string, string | null, object, number][] = [
      ["sim-1", 1, "command", "c1", record("sim-1", "c1"), old],
      ["sim-1", 2, "command_result", "c1", result("c1"), old],
      ["sim-1", 3, "lease", null, lease("l1"), old],
      ["sim-1", 4, "lease", null, lease("l2"), old], // the newest lease entry
      ["sim-1", 5, "command", "c2", record("sim-1", "c2"), old],
      ["sim-1", 6, "command_result", "c2", result("c2"), old], // the newest entry
      ["other-1", 1, "command", "o1", record("other-1", "o1"), old],
      ["other-1", 2, "command_result", "o1", result("o1"), old],
      ["other-1", 3, "command", "o-open", record("other-1", "o-open"), old], // no result: still open
      ["other-1", 4, "command", "o-new", record("other-1", "o-new"), now - HOUR],
      ["other-1", 5, "command_result", "o-new", result("o-new"), now - HOUR],
    ];
    for (const [uid, seq, kind, id, body, ts] of rows) insert.run(uid, seq, kind, id, JSON.stringify(body), ts);
    db.close();

    const server = await serve(`${FAST_SIM}\n[store]\njournal_keep_days = 3\n`, dataDir);
    await until("the journal retention pass", () => server.logs().includes("journal retention: old entries deleted"));
    const op = await Operator.connect(server, "una", "owner");
    // Replay from the start: of sim-1's commands and results only the newest entry is left.
    await op.commands.request({ id: "replay", kind: "subscribe_commands", subscription_id: "replay", filter: { telescope_uid: "sim-1" }, since_seq: 0 });
    const replayed = await op.commands.next((f) => f.subscription_id === "replay");
    expect([replayed.kind, replayed.seq, replayed.result?.command_id]).toEqual(["event_command_result", 6, "c2"]);
    // Numbering goes on after the newest entry kept (and the lease the journal restored has ended: it may be taken).
    const { answer, command_id } = await op.publish({ command_type: "manual_control_lease.acquire", duration_s: 60 });
    expect(answer).toMatchObject({ kind: "ack", seq: 7 });
    expect((await op.result(command_id)).status).toBe("ok");
    expect(op.commands.received.filter((f) => f.subscription_id === "replay" && f.seq < 7)).toHaveLength(1);
    op.close();
    expect(await stop(server)).toBe(0);

    const after = new Database(join(dataDir, "skynode.db"), { readonly: true });
    const left = (uid: string) => (after.query("SELECT seq FROM journal WHERE telescope_uid = ?1 ORDER BY seq").all(uid) as { seq: number }[]).map((r) => r.seq);
    expect(left("other-1")).toEqual([3, 4, 5]);
    // 7 and 8 the acquire and its result, 9 the lease it started.
    expect(left("sim-1")).toEqual([4, 6, 7, 8, 9]);
    after.close();
  }, 60_000);
});

describe("the task queue cap", () => {
  test("[automation] max_queued_tasks: a task past it is refused with conflict over REST until one goes", async () => {
    const dataDir = fresh();
    const server = await serve(`${FAST_SIM}\n[automation]\nmax_queued_tasks = 2\n`, dataDir);
    const op = await Operator.connect(server, "tess");
    // A lease held keeps the automation off, so the tasks stay queued.
    await op.acquire(600);
    const headers = { authorization: `Bearer ${server.token("tess", "operator")}`, "content-type": "application/json" };
    const post = (name: string) =>
      fetch(`${server.http}/v1/tasks`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name, target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 1, count: 1 }] }),
      });
    const first = await post("one");
    expect(first.status).toBe(201);
    expect((await post("two")).status).toBe(201);
    const refused = await post("three");
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("conflict");
    expect(body.error.message).toContain("[automation] max_queued_tasks");
    const { task_id } = (await first.json()) as { task_id: string };
    expect((await fetch(`${server.http}/v1/tasks/${task_id}`, { method: "DELETE", headers })).status).toBe(200);
    expect((await post("three")).status).toBe(201);
    const list = (await (await fetch(`${server.http}/v1/tasks`, { headers })).json()) as { tasks: { spec: { name: string } }[] };
    expect(list.tasks.map((t) => t.spec.name)).toEqual(["two", "three"]);
    op.close();
    expect(await stop(server)).toBe(0);
  }, 60_000);
});
