import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../../app/store/database";
import { ImageIndex } from "../../app/store/images";
import { Outbox } from "../../app/store/outbox";
import { storageFault } from "../../app/store/storage-errors";
import { TaskStore } from "../../app/store/tasks";
import { WriteBehind } from "../../app/store/write-behind";
import { freshDirs } from "../helpers/temp-dirs";

const fresh = freshDirs();

/** Resolves once nothing waits in memory any more (the write-behind says so when its health changes). */
function drained(w: WriteBehind, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (w.health().pending === 0) return resolve();
    const timer = setTimeout(() => reject(new Error(`still pending: ${JSON.stringify(w.health())}`)), timeoutMs);
    const off = w.onChange(() => {
      if (w.health().pending > 0) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

const spec = { name: "t", target: { type: "named" as const, name: "M31" }, exposures: [{ filter_id: "L", duration_s: 1, count: 2, binning: 1 }] };

describe("write-behind stores", () => {
  test("while another connection holds the write lock, writes wait in memory in order, reads see them, and they land once", async () => {
    const dir = fresh();
    const db = openDatabase(dir, 20);
    const writes = WriteBehind.of(db);
    const outbox = new Outbox(db, "t1");
    const images = new ImageIndex(db);
    const tasks = new TaskStore(db, "t1");
    const locker = new Database(join(dir, "skynode.db"));
    locker.run("BEGIN IMMEDIATE");

    outbox.running("c1");
    outbox.done({ command_id: "c1", status: "ok", data: { n: 1 } });
    const image = { image_id: "img-1", telescope_uid: "t1", path: join(dir, "img-1.fits"), created_at: 1000, meta: { bytes: 10 } };
    images.add(image);
    const task = tasks.add(spec);
    tasks.save(task.task_id, "paused", { ...task.progress, exposures_done: 1, message: "m" });
    expect(writes.health()).toMatchObject({ pending: 5, fault: { kind: "busy", code: "SQLITE_BUSY" } });
    expect(writes.health().lastError).toContain("SQLITE_BUSY");

    expect(outbox.lookup("c1")).toMatchObject({ state: "done", result: { data: { n: 1 } } });
    expect(images.get("img-1")).toEqual(image);
    expect(images.latest("t1")?.image_id).toBe("img-1");
    expect(images.totals()).toEqual({ bytes: 10, count: 1 });
    expect(tasks.get(task.task_id)).toMatchObject({ state: "paused", progress: { exposures_done: 1 } });
    expect(tasks.unfinished()).toBe(1);
    expect(locker.query("SELECT COUNT(*) AS n FROM node_outbox").get()).toEqual({ n: 0 });

    locker.run("ROLLBACK");
    await drained(writes);
    expect(writes.health().fault).toBeNull();
    expect(locker.query("SELECT command_id, state FROM node_outbox").all()).toEqual([{ command_id: "c1", state: "done" }]);
    expect(locker.query("SELECT image_id FROM images").all()).toEqual([{ image_id: "img-1" }]);
    expect(locker.query("SELECT state FROM tasks").all()).toEqual([{ state: "paused" }]);
    // What landed reads back the same from a fresh store over the database.
    expect(new Outbox(db, "t1").lookup("c1")?.state).toBe("done");
    expect(new TaskStore(db, "t1").get(task.task_id)?.progress.exposures_done).toBe(1);

    // Deletes wait the same way, and reads stop seeing the row at once.
    locker.run("BEGIN IMMEDIATE");
    outbox.acknowledged("c1");
    let removed = false;
    images.remove(image, () => (removed = true));
    expect(outbox.lookup("c1")).toBeNull();
    expect(images.get("img-1")).toBeNull();
    expect(images.list("t1")).toEqual([]);
    expect(removed).toBe(false);
    locker.run("ROLLBACK");
    await drained(writes);
    expect(removed).toBe(true);
    expect(locker.query("SELECT COUNT(*) AS n FROM node_outbox").get()).toEqual({ n: 0 });
    expect(locker.query("SELECT COUNT(*) AS n FROM images").get()).toEqual({ n: 0 });
    locker.close();
    writes.close();
    db.close();
  });

  test("a write that retrying cannot cure is dropped and reported, and the writes after it land", () => {
    const db = openDatabase(fresh());
    const writes = WriteBehind.of(db);
    let outcome = null as boolean | null;
    writes.enqueue({ label: "broken", run: () => db.run("INSERT INTO no_such_table VALUES (1)"), settled: (ok) => (outcome = ok) });
    expect(outcome).toBe(false);
    expect(writes.health()).toMatchObject({ pending: 0, fault: null });
    expect(writes.health().lastError).toContain("no_such_table");
    const outbox = new Outbox(db, "t1");
    outbox.running("c2");
    expect(db.query("SELECT state FROM node_outbox").all()).toEqual([{ state: "running" }]);
    writes.close();
    db.close();
  });

  test("storage faults are told apart from other errors", () => {
    const kind = (code: string) => storageFault(Object.assign(new Error("x"), { code }))?.kind ?? null;
    expect(kind("SQLITE_BUSY")).toBe("busy");
    expect(kind("SQLITE_FULL")).toBe("full");
    expect(kind("SQLITE_IOERR_WRITE")).toBe("io");
    expect(kind("ENOSPC")).toBe("full");
    expect(kind("EIO")).toBe("io");
    expect(kind("SQLITE_CONSTRAINT_UNIQUE")).toBeNull();
    expect(kind("SQLITE_ERROR")).toBeNull();
    expect(storageFault(new Error("no code"))).toBeNull();
  });
});
