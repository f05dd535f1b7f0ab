import type { Database, Statement } from "bun:sqlite";
import type { CommandResult } from "../protocol";
import { WriteBehind } from "./write-behind";

type State = "running" | "done";
interface Entry {
  state: State;
  result: CommandResult | null;
}

/** The SkyNode's durable record of the commands it executes: `running` while in progress, `done` with the result
 * until the hub acknowledges it. After a crash, `running` rows are commands interrupted mid-way and `done` rows
 * are results the hub may not have received: nothing is lost across a restart or a broken link.
 *
 * It lives in memory (a few rows: the commands in progress and the results not yet acknowledged) and is written
 * behind to SQLite, so a result is never lost to a database that is locked or full at the moment it is produced:
 * the link sends it from memory, and the row lands once the database takes writes again. */
export class Outbox {
  /** In `ts` order, as the rows are read back: a re-put moves an entry to the end. */
  private readonly memory = new Map<string, Entry>();
  private readonly writes: WriteBehind;
  private readonly put: Statement;
  private readonly del: Statement;

  constructor(db: Database, private readonly telescopeUid: string) {
    this.writes = WriteBehind.of(db);
    this.put = db.query(
      "INSERT OR REPLACE INTO node_outbox (telescope_uid, command_id, state, result, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
    );
    this.del = db.query("DELETE FROM node_outbox WHERE telescope_uid = ?1 AND command_id = ?2");
    const rows = db
      .query("SELECT command_id, state, result FROM node_outbox WHERE telescope_uid = ?1 ORDER BY ts")
      .all(telescopeUid) as { command_id: string; state: State; result: string | null }[];
    for (const r of rows) this.memory.set(r.command_id, { state: r.state, result: r.result ? JSON.parse(r.result) : null });
  }

  running(commandId: string): void {
    this.set(commandId, { state: "running", result: null });
  }

  done(result: CommandResult): void {
    this.set(result.command_id, { state: "done", result });
  }

  acknowledged(commandId: string): void {
    if (!this.memory.delete(commandId)) return;
    this.writes.enqueue({ label: `outbox: acknowledged ${commandId}`, run: () => void this.del.run(this.telescopeUid, commandId) });
  }

  lookup(commandId: string): { state: State; result: CommandResult | null } | null {
    const e = this.memory.get(commandId);
    return e ? { ...e } : null;
  }

  entries(): { command_id: string; state: State; result: CommandResult | null }[] {
    return [...this.memory].map(([command_id, e]) => ({ command_id, ...e }));
  }

  private set(commandId: string, entry: Entry): void {
    this.memory.delete(commandId);
    this.memory.set(commandId, entry);
    const body = entry.result ? JSON.stringify(entry.result) : null;
    const ts = Date.now();
    // INSERT OR REPLACE: a write retried after an outage lands once, whatever landed before it.
    this.writes.enqueue({
      label: `outbox: ${entry.state} ${commandId}`,
      run: () => void this.put.run(this.telescopeUid, commandId, entry.state, body, ts),
    });
  }
}
