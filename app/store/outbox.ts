import type { Database, Statement } from "bun:sqlite";
import type { CommandResult } from "../protocol";

/** The SkyNode's durable record of the commands it executes: `running` while in progress, `done` with the result
 * until the hub acknowledges it. After a crash, `running` rows are commands interrupted mid-way and `done` rows
 * are results the hub may not have received: nothing is lost across a restart or a broken link. */
export class Outbox {
  private readonly put: Statement;
  private readonly del: Statement;
  private readonly get: Statement;
  private readonly all: Statement;

  constructor(db: Database, private readonly telescopeUid: string) {
    this.put = db.query(
      "INSERT OR REPLACE INTO node_outbox (telescope_uid, command_id, state, result, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
    );
    this.del = db.query("DELETE FROM node_outbox WHERE telescope_uid = ?1 AND command_id = ?2");
    this.get = db.query("SELECT state, result FROM node_outbox WHERE telescope_uid = ?1 AND command_id = ?2");
    this.all = db.query("SELECT command_id, state, result FROM node_outbox WHERE telescope_uid = ?1 ORDER BY ts");
  }

  running(commandId: string): void {
    this.put.run(this.telescopeUid, commandId, "running", null, Date.now());
  }

  done(result: CommandResult): void {
    this.put.run(this.telescopeUid, result.command_id, "done", JSON.stringify(result), Date.now());
  }

  acknowledged(commandId: string): void {
    this.del.run(this.telescopeUid, commandId);
  }

  lookup(commandId: string): { state: "running" | "done"; result: CommandResult | null } | null {
    const row = this.get.get(this.telescopeUid, commandId) as { state: "running" | "done"; result: string | null } | null;
    return row ? { state: row.state, result: row.result ? JSON.parse(row.result) : null } : null;
  }

  entries(): { command_id: string; state: "running" | "done"; result: CommandResult | null }[] {
    return (this.all.all(this.telescopeUid) as { command_id: string; state: "running" | "done"; result: string | null }[]).map((r) => ({
      ...r,
      result: r.result ? JSON.parse(r.result) : null,
    }));
  }
}
