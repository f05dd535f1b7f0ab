// Storage faults never lose a result: a database locked by another process past the busy timeout, and a data dir
// on a full filesystem. The server stays up, says what is wrong in the telescope snapshot's `storage`, refuses new
// exposures while space is short, and recovers by itself; every result lands exactly once.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, track, type TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { until } from "../helpers/poll";

const servers = new Set<TestServer>();
const mounts = new Set<string>();
const unmount = (m: string) => {
  // Lazy: a file the failed test still holds open must not keep the filesystem mounted.
  if (mounts.delete(m)) expect(Bun.spawnSync(["umount", "-l", m]).exitCode).toBe(0);
};
// Registered before the temp dirs' clean-up, so it runs first: servers stopped, then the filesystem unmounted.
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
});
const fresh = freshDirs();

async function serve(config: string, dataDir: string): Promise<TestServer> {
  const s = await startServer({ config, dataDir });
  servers.add(s);
  return s;
}

async function stop(s: TestServer): Promise<number> {
  servers.delete(s);
  return s.stop();
}


const storageState = (op: Operator, state: string, pred: (s: Record<string, any>) => boolean = () => true) =>
  op.snapshot("event_telescope_snapshot", (s) => s.storage?.state === state && pred(s.storage));

/** A second process that holds SQLite's write lock on the data dir's database until told to let go. */
async function lockDatabase(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(process.argv[1]);
    db.run("BEGIN IMMEDIATE");
    console.log("locked");
    for await (const _ of console) break;
    db.run("ROLLBACK");
    db.close();
  `;
  const proc = Bun.spawn([process.execPath, "-e", script, path], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  track(proc);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  while (!out.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the locking process exited: ${await proc.exited}`);
    out += new TextDecoder().decode(value);
  }
  return {
    async release() {
      proc.stdin.write("release\n");
      await proc.stdin.end();
      const code = await Promise.race([proc.exited, Bun.sleep(5000).then(() => null)]);
      if (code === null) proc.kill("SIGKILL");
      expect(code).toBe(0);
    },
  };
}

/** What the image store holds on disk against what its index says (read with a connection of this process). */
function imageStore(dataDir: string): { rows: Map<string, string>; files: Set<string>; parts: string[] } {
  const db = new Database(join(dataDir, "skynode.db"), { readonly: true });
  try {
    const rows = new Map((db.query("SELECT image_id, path FROM images").all() as { image_id: string; path: string }[]).map((r) => [r.image_id, r.path]));
    const files = new Set<string>();
    const parts: string[] = [];
    const root = join(dataDir, "images");
    for (const e of existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }) : []) {
      if (!e.isFile()) continue;
      const path = join(e.parentPath, e.name);
      if (e.name.endsWith(".part")) parts.push(path);
      else files.add(path);
    }
    return { rows, files, parts };
  } finally {
    db.close();
  }
}

function expectConsistent(dataDir: string): { rows: Map<string, string>; files: Set<string> } {
  const store = imageStore(dataDir);
  expect(store.parts).toEqual([]);
  expect([...store.rows.values()].filter((p) => !store.files.has(p))).toEqual([]);
  const indexed = new Set(store.rows.values());
  expect([...store.files].filter((p) => !indexed.has(p))).toEqual([]);
  return store;
}

const countResults = (op: Operator, commandId: string) =>
  op.commands.received.filter((f) => f.kind === "event_command_result" && f.result.command_id === commandId).length;

describe("the database locked by another process", () => {
  test("a result written while the lock is held is kept in memory, reaches the client once the lock goes, and lands exactly once", async () => {
    const dataDir = fresh();
    const server = await serve(`${FAST_SIM}\n[store]\nbusy_timeout_ms = 50\n`, dataDir);
    const op = await Operator.connect(server, "lena");
    await op.acquire(600);
    const { command_id, answer } = await op.publish({ command_type: "camera.exposure.start", duration_s: 1, binning: 2 });
    expect(answer.kind).toBe("ack");
    await op.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");

    const lock = await lockDatabase(join(dataDir, "skynode.db"));
    let locked = true;
    try {
      // The exposure ends and its image row and result cannot be written: the SkyNode keeps them and says so.
      const degraded = await storageState(op, "degraded", (s) => /SQLITE_BUSY|locked/.test(s.last_error ?? ""));
      expect(degraded.storage.free_bytes).toBeGreaterThan(0);
      expect((await fetch(`${server.http}/healthz`)).status).toBe(200);
      // The hub cannot journal the result either (same database): nobody has been told it yet.
      expect(countResults(op, command_id)).toBe(0);
      await lock.release();
      locked = false;
    } finally {
      if (locked) await lock.release();
    }

    const result = await op.result(command_id, 20_000);
    expect(result.status).toBe("ok");
    expect(result.data.stored).toBe(true);
    await storageState(op, "ok");
    // A later command's result arriving shows the stream has moved on: the first result came exactly once.
    expect((await op.run({ command_type: "focuser.move_relative", delta_um: 10 })).status).toBe("ok");
    expect(countResults(op, command_id)).toBe(1);
    op.close();
    expect(await stop(server)).toBe(0);

    const db = new Database(join(dataDir, "skynode.db"), { readonly: true });
    const journal = db.query("SELECT kind FROM journal WHERE command_id = ?1 ORDER BY seq").all(command_id) as { kind: string }[];
    expect(journal.map((r) => r.kind)).toEqual(["command", "command_result"]);
    // Acknowledged by the hub: the outbox row (running, then done) is gone, so a restart reports nothing twice.
    expect(db.query("SELECT * FROM node_outbox WHERE command_id = ?1").all(command_id)).toEqual([]);
    const image = db.query("SELECT path FROM images WHERE image_id = ?1").get(result.data.image_id) as { path: string } | null;
    db.close();
    expect(image && existsSync(image.path)).toBe(true);
    expectConsistent(dataDir);
  }, 60_000);
});

describe("the data dir on a full filesystem", () => {
  // A real filesystem of its own (tmpfs, so the test needs root, as CI has), filled by a file the test writes.
  test("the server stays up, reports full, refuses new exposures naming the free space, leaves no partial file, and recovers by itself", async () => {
    const mount = fresh();
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount]);
    expect(mounted.exitCode, `mount tmpfs: ${mounted.stderr.toString()}`).toBe(0);
    mounts.add(mount);
    try {
      const dataDir = join(mount, "data");
      mkdirSync(dataDir);
      const filler = join(mount, "filler");
      const free = () => {
        const s = statfsSync(mount);
        return s.bavail * s.bsize;
      };
      const config = `${FAST_SIM.replace("width = 1024\nheight = 768", "width = 256\nheight = 192")}\n[store]\nmin_free_mb = 4\n`;
      const server = await serve(config, dataDir);
      const op = await Operator.connect(server, "max");
      const lease = await op.acquire(600);
      const first = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 1 });
      expect(first.status).toBe("ok");

      // Mid-exposure the disk fills up to the last byte.
      const { command_id, answer } = await op.publish({ command_type: "camera.exposure.start", duration_s: 1, binning: 1 });
      expect(answer.kind).toBe("ack");
      await op.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
      const fd = openSync(filler, "w");
      for (const chunk of [1 << 20, 4096, 512]) {
        const block = new Uint8Array(chunk);
        try {
          while (true) writeSync(fd, block);
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
        }
      }
      expect(free()).toBe(0);
      const filled = fstatSync(fd).size;
      // The frame has met the full disk once the server says so (or, failing that, answers or dies).
      await until("the image write to meet the full disk", () => server.logs().includes("the data disk refused an image") || countResults(op, command_id) > 0 || server.proc.exitCode !== null);
      expect((await fetch(`${server.http}/healthz`)).status).toBe(200);
      await storageState(op, "full", (s) => s.free_bytes === 0);
      // The frame waits in memory: neither a partial file nor a row without its file.
      expect(imageStore(dataDir).parts).toEqual([]);
      expectConsistent(dataDir);

      // Some space again, but less than [store] min_free_mb.
      ftruncateSync(fd, filled - 1024 * 1024);
      const refused = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 1 });
      expect(refused.status).toBe("error");
      expect(refused.error.code).toBe("conflict");
      expect(refused.error.message).toMatch(/only [\d.]+ MB free on the data disk \(needs 4 MB: \[store\] min_free_mb\)/);
      const af = await op.run({ command_type: "imager.autofocus", filter_id: "L", strategy: "vcurve" });
      expect(af).toMatchObject({ status: "error", error: { code: "conflict" } });
      expect(af.error.message).toContain("MB free on the data disk");
      // The exposure the full disk interrupted was not lost: its result arrives, and its frame is written.
      const kept = await op.result(command_id, 30_000);
      expect(kept.status).toBe("ok");
      expect(kept.data.stored).toBe(false);
      await until("the kept frame on disk", () => existsSync(kept.data.path), 40_000);
      await storageState(op, "full");
      expectConsistent(dataDir);

      // The automation's frames wait too.
      await op.release(lease);
      const token = server.token("max", "operator");
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const posted = await fetch(`${server.http}/v1/tasks`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: "full-disk", target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 0.1, count: 1, binning: 2 }] }),
      });
      expect(posted.status).toBe(201);
      const task = (await posted.json()) as { task_id: string };
      const taskNow = async () => (await (await fetch(`${server.http}/v1/tasks/${task.task_id}`, { headers })).json()) as Record<string, any>;
      const waiting = await until("the task waiting for space", async () => {
        const t = await taskNow();
        return /MB free on the data disk/.test(t.progress.message ?? "") && t;
      });
      expect(waiting.state).toBe("paused");

      // Space again: everything goes on by itself.
      closeSync(fd);
      rmSync(filler);
      await storageState(op, "ok", (s) => s.free_bytes > 4 * 1024 * 1024);
      const done = await until("the task done", async () => {
        const t = await taskNow();
        return t.state === "done" && t;
      }, 30_000);
      expect(done.progress.image_ids).toHaveLength(1);
      await op.acquire(600);
      const after = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 1 });
      expect(after).toMatchObject({ status: "ok", data: { stored: true } });
      expect(countResults(op, command_id)).toBe(1);
      op.close();
      expect(await stop(server)).toBe(0);

      const store = expectConsistent(dataDir);
      for (const id of [first.data.image_id, kept.data.image_id, after.data.image_id, done.progress.image_ids[0]]) expect(store.rows.has(id)).toBe(true);
      const db = new Database(join(dataDir, "skynode.db"), { readonly: true });
      expect((db.query("SELECT COUNT(*) AS n FROM journal WHERE command_id = ?1 AND kind = 'command_result'").get(command_id) as { n: number }).n).toBe(1);
      db.close();
    } finally {
      for (const s of servers) await stop(s);
      unmount(mount);
    }
  }, 120_000);
});

describe("after an interrupted write", () => {
  test("start-up removes stale partial files, indexes a stored frame whose row never landed, and drops a row whose file is gone", async () => {
    const dataDir = fresh();
    let server = await serve(FAST_SIM, dataDir);
    const op = await Operator.connect(server, "olav");
    await op.acquire(600);
    const shot = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 2 });
    expect(shot.status).toBe("ok");
    op.close();
    expect(await stop(server)).toBe(0);

    // What a crash at the wrong moment leaves: the frame's file without its row, a half-written file, and a row
    // whose file was deleted just before the crash.
    const db = new Database(join(dataDir, "skynode.db"));
    db.query("DELETE FROM images WHERE image_id = ?1").run(shot.data.image_id);
    const gone = join(dataDir, "images", "sim-1", "gone.fits");
    db.query("INSERT INTO images (image_id, telescope_uid, path, created_at, meta) VALUES ('gone', 'sim-1', ?1, 1, '{}')").run(gone);
    db.close();
    const part = `${shot.data.path.replace(/\.fits$/, "")}-other.fits.part`;
    await Bun.write(part, new Uint8Array(1000));

    server = await serve(FAST_SIM, dataDir);
    const viewer = { authorization: `Bearer ${server.token("vic", "viewer")}` };
    const status = (id: string) => fetch(`${server.http}/v1/images/${id}.fits`, { headers: viewer }).then((r) => r.status);
    await until("the frame indexed again", async () => (await status(shot.data.image_id)) === 200);
    await until("the dangling row dropped", async () => (await status("gone")) === 404 && !imageStore(dataDir).rows.has("gone"));
    expect(existsSync(part)).toBe(false);
    expect(await stop(server)).toBe(0);
    const store = expectConsistent(dataDir);
    expect([...store.rows.keys()]).toEqual([shot.data.image_id]);
  }, 60_000);
});
