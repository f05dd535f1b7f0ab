import type { Database, Statement } from "bun:sqlite";
import type { Logger } from "pino";
import type { LinkOutbox, QueuedFrame } from "../node/hub-link";
import type { CommandRecord, CommandResult, LeaseState, LogEntry } from "../protocol";
import type { Journal, JournalEntry } from "../store/journal";
import { storageFault } from "../store/storage-errors";
import { WriteBehind } from "../store/write-behind";
import { holdersToUpstream } from "./names";

const PAGE = 1000;

/** What the upstream hub has not acknowledged yet, durably: the journal is the queue for command results and lease
 * events (a cursor records how far the hub has acknowledged, so nothing is copied and a crash loses nothing), and a
 * table holds log lines. Frames are resent in order after every reconnect; the hub deduplicates results by
 * command_id and ignores a lease state it already holds, so a replay is harmless. */
export class UpstreamQueue implements LinkOutbox {
  private cursor: number;
  private readonly saveCursor: Statement;
  private readonly insertLog: Statement;
  private readonly logsAfter: Statement;
  private readonly deleteLogs: Statement;
  private readonly countLogs: Statement;
  private readonly trimLogs: Statement;
  private inserts = 0;
  /** Log lines dropped because the queue was full (reported, never silent). */
  dropped = 0;
  /** Log lines the database could not queue (busy, full): sent once, not kept for a resend. */
  private unqueued = 0;
  private readonly writes: WriteBehind;

  constructor(
    db: Database,
    private readonly journal: Journal,
    private readonly telescopeUid: string,
    private readonly upstream: string,
    private readonly maxLogs: number,
    private readonly log: Logger,
  ) {
    this.writes = WriteBehind.of(db);
    const row = db.query("SELECT seq FROM federation_cursor WHERE telescope_uid = ?1 AND upstream = ?2").get(telescopeUid, upstream) as { seq: number } | null;
    // A new upstream starts from now: it has not seen this appliance's earlier commands and could not place them.
    this.cursor = row?.seq ?? journal.lastSeq(telescopeUid);
    this.saveCursor = db.query("INSERT OR REPLACE INTO federation_cursor (telescope_uid, upstream, seq) VALUES (?1, ?2, ?3)");
    if (!row) this.saveCursor.run(telescopeUid, upstream, this.cursor);
    this.insertLog = db.query("INSERT INTO federation_logs (upstream, entry) VALUES (?1, ?2) RETURNING id");
    this.logsAfter = db.query("SELECT id, entry FROM federation_logs WHERE upstream = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    this.deleteLogs = db.query("DELETE FROM federation_logs WHERE upstream = ?1 AND id <= ?2");
    this.countLogs = db.query("SELECT COUNT(*) AS n FROM federation_logs WHERE upstream = ?1");
    this.trimLogs = db.query(
      "DELETE FROM federation_logs WHERE upstream = ?1 AND id <= (SELECT MAX(id) FROM federation_logs WHERE upstream = ?1) - ?2",
    );
  }

  /** The frame for a journal entry the hub must get, or null (commands of the appliance's own users and their
   * results stay local: the hub never saw them). */
  frameFor(e: JournalEntry): QueuedFrame | null {
    const id = `j:${e.seq}`;
    if (e.kind === "lease") {
      const lease = holdersToUpstream(e.body as LeaseState, this.telescopeUid);
      return { id, endpoint: "commands", frame: { kind: "publish_manual_control_lease", telescope_uid: this.telescopeUid, seq: e.seq, lease } };
    }
    if (e.kind !== "command_result" || !e.command_id) return null;
    const command = this.journal.find(this.telescopeUid, e.command_id, "command");
    if ((command?.body as CommandRecord | undefined)?.origin.kind !== "hub") return null;
    const result = holdersToUpstream(e.body as CommandResult, this.telescopeUid);
    return { id, endpoint: "commands", frame: { kind: "publish_command_result", telescope_uid: this.telescopeUid, result } };
  }

  /** Queues a log line; returns its frame. A database that cannot take it (busy, full) costs the line its place in
   * the queue, not the line: it is sent once, now, under an id no acknowledgement moves anything for. */
  addLog(entry: LogEntry): QueuedFrame {
    let id: number;
    try {
      id = (this.insertLog.get(this.upstream, JSON.stringify(entry)) as { id: number }).id;
    } catch (err) {
      if (!storageFault(err)) throw err;
      if (this.unqueued++ % 1000 === 0) this.log.warn({ err: (err as Error).message, unqueued: this.unqueued }, "upstream log lines sent without queueing: the database refuses writes");
      return { ...logFrame(this.telescopeUid, 0, entry), id: `m:${this.unqueued}` };
    }
    if (++this.inserts % 256 === 0) this.trim();
    return logFrame(this.telescopeUid, id, entry);
  }

  pending(): QueuedFrame[] {
    const out: QueuedFrame[] = [];
    let after = this.cursor;
    let lastScanned = after;
    for (;;) {
      const page = this.journal.since(this.telescopeUid, after, PAGE);
      for (const e of page) {
        const f = this.frameFor(e);
        if (f) out.push(f);
        lastScanned = e.seq;
      }
      if (page.length < PAGE) break;
      after = lastScanned;
    }
    // Nothing of the hub's since the cursor: move it on, so the next reconnect does not scan the same entries.
    if (out.length === 0 && lastScanned > this.cursor) this.advance(lastScanned);
    for (let after = 0; ; ) {
      const rows = this.logsAfter.all(this.upstream, after, PAGE) as { id: number; entry: string }[];
      for (const r of rows) out.push(logFrame(this.telescopeUid, r.id, JSON.parse(r.entry)));
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.id;
    }
    return out;
  }

  acknowledged(id: string): void {
    const n = Number(id.slice(2));
    if (!Number.isSafeInteger(n)) return;
    // The hub answers each socket's frames in order: an acknowledgement covers everything sent before it.
    if (id.startsWith("j:")) this.advance(n);
    else if (id.startsWith("l:")) this.writes.enqueue({ label: "upstream log acknowledged", run: () => void this.deleteLogs.run(this.upstream, n) });
  }

  refused(id: string): void {
    this.log.error({ id }, "the upstream hub refused a queued frame; it is dropped");
    this.acknowledged(id);
  }

  /** Log lines waiting (for the link status). */
  queuedLogs(): number {
    return (this.countLogs.get(this.upstream) as { n: number }).n;
  }

  private advance(seq: number): void {
    if (seq <= this.cursor) return;
    this.cursor = seq;
    // Behind the write-behind: an acknowledgement arrives on a socket's message handler, where a locked database must
    // not throw. Lost to a crash before it lands, the cursor only makes the hub see a few frames again (deduplicated).
    this.writes.enqueue({ label: "upstream cursor", run: () => void this.saveCursor.run(this.telescopeUid, this.upstream, seq) });
  }

  private trim(): void {
    const n = this.queuedLogs();
    if (n <= this.maxLogs) return;
    this.writes.enqueue({ label: "upstream log queue trimmed", run: () => void this.trimLogs.run(this.upstream, this.maxLogs) });
    this.dropped += n - this.maxLogs;
    this.log.warn({ dropped: n - this.maxLogs, total_dropped: this.dropped }, "upstream log queue full: oldest lines dropped");
  }
}

function logFrame(telescopeUid: string, id: number, entry: LogEntry): QueuedFrame {
  return { id: `l:${id}`, endpoint: "stream", frame: { kind: "publish_telescope_log", telescope_uid: telescopeUid, entry } };
}
