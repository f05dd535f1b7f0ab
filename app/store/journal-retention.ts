import type { Database, Statement } from "bun:sqlite";
import type { Logger } from "pino";
import { WriteBehind } from "./write-behind";

const BATCH = 500;
const DAY_MS = 86_400_000;

type Key = { telescope_uid: string; seq: number; ts: number };

/** `[store] journal_keep_days`: deletes journal entries older than that, oldest first, in batches (one short
 * transaction each, through the write-behind, with the event loop free between them). It keeps what the hub needs
 * after a restart: a command with no result yet (it is still open), each telescope's newest lease entry (the lease
 * state it restores) and each telescope's newest entry of all (so `seq` goes on counting up: Journal.lastSeq). */
export class JournalRetention {
  private readonly writes: WriteBehind;
  private readonly candidates: Statement;
  private readonly newest: Statement;
  private readonly newestLease: Statement;
  private readonly del: Statement;
  private running: Promise<number> | null = null;

  constructor(
    private readonly db: Database,
    private readonly keepDays: number,
    private readonly log: Logger,
  ) {
    this.writes = WriteBehind.of(db);
    // The journal_ts index holds (ts, telescope_uid, seq): the cursor walks it in order. `kind != 'lease'` selects
    // the partial unique index for the open-command test.
    this.candidates = db.query(
      `SELECT j.telescope_uid, j.seq, j.ts FROM journal j
        WHERE j.ts < ?1 AND (j.ts, j.telescope_uid, j.seq) > (?2, ?3, ?4)
          AND NOT (j.kind = 'command' AND NOT EXISTS (SELECT 1 FROM journal r WHERE r.telescope_uid = j.telescope_uid
            AND r.command_id = j.command_id AND r.kind = 'command_result' AND r.kind != 'lease'))
        ORDER BY j.ts, j.telescope_uid, j.seq LIMIT ?5`,
    );
    this.newest = db.query("SELECT telescope_uid, MAX(seq) AS seq FROM journal GROUP BY telescope_uid");
    this.newestLease = db.query("SELECT telescope_uid, MAX(seq) AS seq FROM journal WHERE kind = 'lease' GROUP BY telescope_uid");
    this.del = db.query("DELETE FROM journal WHERE telescope_uid = ?1 AND seq = ?2");
  }

  /** One pass; resolves with how many entries it deleted (a pass already running is joined, not doubled). */
  run(now = Date.now()): Promise<number> {
    if (this.keepDays <= 0) return Promise.resolve(0);
    this.running ??= this.pass(now - this.keepDays * DAY_MS).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(cutoff: number): Promise<number> {
    const kept = new Set<string>();
    for (const stmt of [this.newest, this.newestLease]) {
      for (const r of stmt.all() as { telescope_uid: string; seq: number }[]) kept.add(`${r.telescope_uid}\u0000${r.seq}`);
    }
    let cursor: Key = { telescope_uid: "", seq: -1, ts: Number.MIN_SAFE_INTEGER };
    let deleted = 0;
    while (true) {
      const rows = this.candidates.all(cutoff, cursor.ts, cursor.telescope_uid, cursor.seq, BATCH) as Key[];
      if (rows.length === 0) break;
      cursor = rows.at(-1)!;
      const doomed = rows.filter((r) => !kept.has(`${r.telescope_uid}\u0000${r.seq}`));
      if (doomed.length > 0) {
        const landed = await new Promise<boolean>((resolve) =>
          this.writes.enqueue({
            label: `journal retention: ${doomed.length} entries`,
            run: () => this.db.transaction(() => doomed.forEach((r) => this.del.run(r.telescope_uid, r.seq)))(),
            settled: resolve,
          }),
        );
        if (!landed) break;
        deleted += doomed.length;
      }
      if (rows.length < BATCH) break;
      await new Promise((r) => setImmediate(r));
    }
    if (deleted > 0) this.log.info({ deleted, keep_days: this.keepDays }, "journal retention: old entries deleted");
    return deleted;
  }
}
