import type { Database, Statement } from "bun:sqlite";
import type { TaskProgress, TaskRecord, TaskSpec, TaskState } from "../protocol";

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

/** The automated observing queue of one telescope, in submission order; progress is saved after every frame so a
 * restart resumes where it stopped. */
export class TaskStore {
  private readonly insert: Statement;
  private readonly update: Statement;
  private readonly byId: Statement;
  private readonly listStmt: Statement;
  private readonly del: Statement;
  private readonly maxPos: Statement;

  constructor(db: Database, private readonly telescopeUid: string) {
    this.insert = db.query(
      "INSERT INTO tasks (task_id, telescope_uid, position, state, spec, progress, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
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
    const pos = (this.maxPos.get(this.telescopeUid) as { p: number }).p + 1;
    this.insert.run(task_id, this.telescopeUid, pos, "queued", JSON.stringify(spec), JSON.stringify(progress), Date.now());
    return this.get(task_id)!;
  }

  get(taskId: string): TaskRecord | null {
    const row = this.byId.get(taskId, this.telescopeUid) as Row | null;
    return row ? toRecord(row) : null;
  }

  list(): TaskRecord[] {
    return (this.listStmt.all(this.telescopeUid) as Row[]).map(toRecord);
  }

  save(taskId: string, state: TaskState, progress: TaskProgress): void {
    this.update.run(taskId, state, JSON.stringify(progress), Date.now());
  }

  remove(taskId: string): boolean {
    return this.del.run(taskId, this.telescopeUid).changes > 0;
  }
}
