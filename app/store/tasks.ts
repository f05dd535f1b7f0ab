import type { Database, Statement } from "bun:sqlite";
import type { TaskProgress, TaskRecord, TaskSpec, TaskState } from "../protocol";
import { WriteBehind } from "./write-behind";

interface Row {
  task_id: string;
  telescope_uid: string;
  position: number;
  state: TaskState;
  spec: string;
  progress: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): TaskRecord => ({
  task_id: r.task_id,
  telescope_uid: r.telescope_uid,
  state: r.state,
  spec: JSON.parse(r.spec),
  progress: JSON.parse(r.progress),
  created_at: new Date(r.created_at).toISOString(),
  updated_at: new Date(r.updated_at).toISOString(),
});

export const UNFINISHED: readonly TaskState[] = ["running", "paused", "queued"];

/** The automated observing queue of one telescope, in submission order; progress is saved after every frame so a
 * restart resumes where it stopped. Writes go behind (app/store/write-behind.ts); reads see them at once, so the
 * automation goes on while the database is locked or full, and its progress lands once it takes writes again. */
export class TaskStore {
  private readonly writes: WriteBehind;
  /** Rows not yet in the database as they will be (null: deleted). */
  private readonly pending = new Map<string, Row | null>();
  private readonly insert: Statement;
  private readonly update: Statement;
  private readonly byId: Statement;
  private readonly listStmt: Statement;
  private readonly del: Statement;
  private readonly maxPos: Statement;

  constructor(db: Database, private readonly telescopeUid: string) {
    this.writes = WriteBehind.of(db);
    this.insert = db.query(
      "INSERT INTO tasks (task_id, telescope_uid, position, state, spec, progress, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (task_id) DO NOTHING",
    );
    this.update = db.query("UPDATE tasks SET state = ?2, progress = ?3, updated_at = ?4 WHERE task_id = ?1");
    this.byId = db.query("SELECT * FROM tasks WHERE task_id = ?1 AND telescope_uid = ?2");
    this.listStmt = db.query("SELECT * FROM tasks WHERE telescope_uid = ?1 ORDER BY position");
    this.del = db.query("DELETE FROM tasks WHERE task_id = ?1 AND telescope_uid = ?2");
    this.maxPos = db.query("SELECT COALESCE(MAX(position), 0) AS p FROM tasks WHERE telescope_uid = ?1");
  }

  add(spec: TaskSpec): TaskRecord {
    const task_id = crypto.randomUUID();
    const total = spec.exposures.reduce((n, s) => n + s.count, 0);
    const progress: TaskProgress = { exposures_done: 0, exposures_total: total, step: 0, step_done: 0, image_ids: [] };
    let pos = (this.maxPos.get(this.telescopeUid) as { p: number }).p;
    for (const r of this.pending.values()) if (r && r.position > pos) pos = r.position;
    const now = Date.now();
    const row: Row = { task_id, telescope_uid: this.telescopeUid, position: pos + 1, state: "queued", spec: JSON.stringify(spec), progress: JSON.stringify(progress), created_at: now, updated_at: now };
    this.write(task_id, row, `tasks: add ${task_id}`, () => this.insert.run(task_id, this.telescopeUid, row.position, row.state, row.spec, row.progress, now));
    return toRecord(row);
  }

  get(taskId: string): TaskRecord | null {
    const row = this.row(taskId);
    return row ? toRecord(row) : null;
  }

  list(): TaskRecord[] {
    const rows = (this.listStmt.all(this.telescopeUid) as Row[]).filter((r) => !this.pending.has(r.task_id));
    for (const r of this.pending.values()) if (r) rows.push(r);
    return rows.sort((a, b) => a.position - b.position).map(toRecord);
  }

  /** Queued, running or paused tasks: what `[automation] max_queued_tasks` caps. */
  unfinished(): number {
    return this.list().filter((t) => UNFINISHED.includes(t.state)).length;
  }

  save(taskId: string, state: TaskState, progress: TaskProgress): void {
    const base = this.row(taskId);
    if (!base) return;
    const row: Row = { ...base, state, progress: JSON.stringify(progress), updated_at: Date.now() };
    this.write(taskId, row, `tasks: ${state} ${taskId}`, () => this.update.run(taskId, state, row.progress, row.updated_at));
  }

  remove(taskId: string): boolean {
    if (!this.row(taskId)) return false;
    this.write(taskId, null, `tasks: remove ${taskId}`, () => this.del.run(taskId, this.telescopeUid));
    return true;
  }

  private row(taskId: string): Row | null {
    const p = this.pending.get(taskId);
    if (p !== undefined) return p;
    return this.byId.get(taskId, this.telescopeUid) as Row | null;
  }

  private write(taskId: string, row: Row | null, label: string, run: () => void): void {
    this.pending.set(taskId, row);
    this.writes.enqueue({
      label,
      run,
      settled: () => {
        // A later write of the same task is still pending: reads keep seeing that one.
        if (this.pending.get(taskId) === row) this.pending.delete(taskId);
      },
    });
  }
}
