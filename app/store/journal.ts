import type { Database, Statement } from "bun:sqlite";
import { WriteBehind } from "./write-behind";

export type JournalKind = "command" | "command_result" | "lease";

export interface JournalEntry<B = unknown> {
  telescope_uid: string;
  seq: number;
  kind: JournalKind;
  command_id: string | null;
  body: B;
  ts: number;
}

interface Row {
  telescope_uid: string;
  seq: number;
  kind: JournalKind;
  command_id: string | null;
  body: string;
  ts: number;
}

const toEntry = (r: Row): JournalEntry => ({ ...r, body: JSON.parse(r.body) });

/** The durable record of every command, command result and lease event, numbered per telescope so a reconnecting
 * client can ask for what it missed (`since_seq`). Appends are single-row commits (WAL, synchronous=NORMAL). */
export class Journal {
  /** Called after each append (the federation bridge follows the journal to send results and leases upstream). */
  private readonly listeners: ((entry: JournalEntry) => void)[] = [];
  private readonly lastSeqCache = new Map<string, number>();
  private readonly insert: Statement;
  private readonly maxSeq: Statement;
  private readonly sinceStmt: Statement;
  private readonly byCommand: Statement;

  constructor(private readonly db: Database) {
    this.insert = db.query(
      "INSERT INTO journal (telescope_uid, seq, kind, command_id, body, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    );
    this.maxSeq = db.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM journal WHERE telescope_uid = ?1");
    this.sinceStmt = db.query(
      "SELECT * FROM journal WHERE telescope_uid = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    );
    // `kind != 'lease'` lets SQLite use the partial unique index; without it every lookup scans the telescope's journal.
    this.byCommand = db.query("SELECT * FROM journal WHERE telescope_uid = ?1 AND command_id = ?2 AND kind = ?3 AND kind != 'lease'");
  }

  /** Appends and returns the entry's sequence number. Throws (and numbers nothing) if the write fails, e.g.
   * a duplicate command id or a database locked by another process past the busy timeout: the journal is written
   * through, never behind, because the hub answers (acks) only what it has recorded. Where the SkyNode's stores
   * share the database, the write reports to their health (the telescope snapshot's `storage`). */
  append(telescopeUid: string, kind: JournalKind, commandId: string | null, body: object): JournalEntry {
    const seq = this.lastSeq(telescopeUid) + 1;
    const ts = Date.now();
    const write = () => this.insert.run(telescopeUid, seq, kind, commandId, JSON.stringify(body), ts);
    const health = WriteBehind.existing(this.db);
    if (health) health.direct(write);
    else write();
    this.lastSeqCache.set(telescopeUid, seq);
    const entry = { telescope_uid: telescopeUid, seq, kind, command_id: commandId, body, ts };
    for (const listener of this.listeners) listener(entry);
    return entry;
  }

  onAppend(listener: (entry: JournalEntry) => void): void {
    this.listeners.push(listener);
  }

  lastSeq(telescopeUid: string): number {
    let seq = this.lastSeqCache.get(telescopeUid);
    if (seq === undefined) {
      seq = (this.maxSeq.get(telescopeUid) as { seq: number }).seq;
      this.lastSeqCache.set(telescopeUid, seq);
    }
    return seq;
  }

  since(telescopeUid: string, afterSeq: number, limit = 10_000): JournalEntry[] {
    return (this.sinceStmt.all(telescopeUid, afterSeq, limit) as Row[]).map(toEntry);
  }

  find(telescopeUid: string, commandId: string, kind: "command" | "command_result"): JournalEntry | null {
    const row = this.byCommand.get(telescopeUid, commandId, kind) as Row | null;
    return row ? toEntry(row) : null;
  }

  telescopes(): string[] {
    return (this.db.query("SELECT DISTINCT telescope_uid FROM journal").all() as { telescope_uid: string }[]).map(
      (r) => r.telescope_uid,
    );
  }

  /** Commands that have no result yet, oldest first (the `kind != 'lease'` again selects the partial index). */
  openCommands(): JournalEntry[] {
    const rows = this.db
      .query(
        `SELECT c.* FROM journal c WHERE c.kind = 'command' AND NOT EXISTS (
           SELECT 1 FROM journal r WHERE r.kind = 'command_result' AND r.kind != 'lease' AND r.telescope_uid = c.telescope_uid
             AND r.command_id = c.command_id) ORDER BY c.telescope_uid, c.seq`,
      )
      .all() as Row[];
    return rows.map(toEntry);
  }

  /** The newest lease event of each telescope. */
  latestLeases(): JournalEntry[] {
    const rows = this.db
      .query(
        `SELECT j.* FROM journal j JOIN (SELECT telescope_uid, MAX(seq) AS seq FROM journal WHERE kind = 'lease'
           GROUP BY telescope_uid) l ON j.telescope_uid = l.telescope_uid AND j.seq = l.seq`,
      )
      .all() as Row[];
    return rows.map(toEntry);
  }
}
