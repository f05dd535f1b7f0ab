import type { Database } from "bun:sqlite";
import type { Logger } from "pino";
import { describeError, storageFault, type StorageFault } from "./storage-errors";

/** One write to the database, run by the write-behind in the order it was enqueued. */
export interface StoreWrite {
  /** What it writes, for the logs. */
  label: string;
  /** Runs the statement(s); throws as bun:sqlite does. */
  run(): void;
  /** Called once: `true` when the write is in the database, `false` when it was dropped as unwritable (a constraint
   * violation or another error that retrying would not cure). Stores forget their in-memory copy here. */
  settled?(landed: boolean): void;
}

export interface WriteHealth {
  /** Writes (and frames, see addPending) kept in memory because they could not be written yet. */
  pending: number;
  /** The worst fault standing now (full before io before busy), or null once writes succeed again. */
  fault: StorageFault | null;
  /** The last storage error seen since start (kept after recovery, for the record), or null. */
  lastError: string | null;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
/** While a lock is known to be held, a retry waits this long for it instead of `busy_timeout`: the backoff does the
 * waiting, so the event loop is never held for seconds on every attempt. */
const RETRY_BUSY_TIMEOUT_MS = 20;
/** Writes run per turn of the event loop when a backlog drains (after an outage), so catching up never stalls it. */
const BATCH = 256;
const SEVERITY = { full: 3, io: 2, busy: 1 } as const;

const byDatabase = new WeakMap<Database, WriteBehind>();

/** The data dir's write path: the SkyNode's stores keep their state in memory and write it here, behind. Each write
 * runs at once while the database takes writes (as durable as a direct write); when one fails for a reason that
 * passes (lock held past the busy timeout, disk full, I/O error), it and every later write wait in memory, in order,
 * and are retried with capped exponential backoff, and at once when any other write to the data dir succeeds.
 * Other errors are logged and the write dropped. One per database, so order holds across the stores. */
export class WriteBehind {
  private readonly queue: StoreWrite[] = [];
  private readonly faults = new Map<string, StorageFault>();
  private readonly pendingSources: (() => number)[] = [];
  private readonly changeListeners = new Set<() => void>();
  private readonly successListeners = new Set<() => void>();
  private lastError: string | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private running = false;
  private closed = false;
  private lastChange = "";
  private log: Logger | null = null;

  private constructor(private readonly db: Database) {}

  /** The write-behind of `db` (created on first use). */
  static of(db: Database, log?: Logger): WriteBehind {
    let w = byDatabase.get(db);
    if (!w) byDatabase.set(db, (w = new WriteBehind(db)));
    if (log) w.log = log.child({ part: "store" });
    return w;
  }

  /** The write-behind of `db` if one was made (the hub's journal reports to it without creating one). */
  static existing(db: Database): WriteBehind | undefined {
    return byDatabase.get(db);
  }

  enqueue(write: StoreWrite): void {
    if (this.closed && !this.running) {
      this.log?.error({ write: write.label }, "write after the store closed: dropped");
      write.settled?.(false);
      return;
    }
    this.queue.push(write);
    // Behind a failing or draining backlog a write only queues: it must not pass the writes before it.
    if (!this.faults.has("database") && !this.timer && !this.immediate) this.drain();
    else this.changed();
  }

  health(): WriteHealth {
    let fault: StorageFault | null = null;
    for (const f of this.faults.values()) if (!fault || SEVERITY[f.kind] > SEVERITY[fault.kind]) fault = f;
    const pending = this.queue.length + this.pendingSources.reduce((n, s) => n + s(), 0);
    return { pending, fault, lastError: this.lastError };
  }

  /** A write elsewhere in the data dir failed (`source`: "database" for direct SQLite writes such as the journal's,
   * or a file writer's name). Storage faults stand until that source reports a success. */
  noteFault(source: string, err: unknown): StorageFault | null {
    const fault = storageFault(err);
    this.lastError = describeError(err);
    if (fault) this.faults.set(source, fault);
    this.changed();
    return fault;
  }

  /** A write elsewhere succeeded: its fault is over, and the storage takes writes, so waiting ones are tried now. */
  noteSuccess(source: string): void {
    if (this.faults.size === 0) return;
    this.faults.delete(source);
    this.changed();
    for (const l of this.successListeners) l();
    this.poke();
  }

  /** A file writer's fault is over without a success (it gave up what it kept): its fault no longer stands. */
  clearFault(source: string): void {
    if (this.faults.delete(source)) this.changed();
  }

  /** Runs a write made directly rather than behind (the hub's journal, which must answer its caller now): it reports
   * to this health like the queued writes, and while the lock is known to be held it waits only briefly. */
  direct<T>(write: () => T): T {
    const restore = this.faults.get("database")?.kind === "busy" ? this.shortBusyTimeout() : null;
    try {
      const out = write();
      this.noteSuccess("database");
      return out;
    } catch (err) {
      if (storageFault(err)) this.noteFault("database", err);
      throw err;
    } finally {
      restore?.();
    }
  }

  /** Counts what a file writer keeps in memory in the health's `pending`. */
  addPending(count: () => number): void {
    this.pendingSources.push(count);
  }

  /** Called whenever the health may have changed. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called after a database write succeeds while others wait (file writers retry then too). */
  onSuccess(listener: () => void): () => void {
    this.successListeners.add(listener);
    return () => this.successListeners.delete(listener);
  }

  /** Shutdown: one last attempt at everything waiting (with the full busy timeout), then no more writes. Returns how
   * many writes are lost. */
  close(): number {
    this.closed = true;
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
    this.faults.delete("database");
    this.drain(Infinity);
    const lost = this.queue.length;
    if (lost) this.log?.error({ lost, error: this.lastError }, "the store could not save every write before shutdown: these are lost");
    for (const w of this.queue.splice(0)) w.settled?.(false);
    return lost;
  }

  private drain(batch = BATCH): void {
    if (this.running) return;
    this.running = true;
    const retrying = this.faults.has("database");
    const restore = retrying ? this.shortBusyTimeout() : null;
    let done = 0;
    try {
      while (this.queue.length > 0) {
        if (done >= batch) return this.schedule(0);
        const write = this.queue[0]!;
        try {
          write.run();
        } catch (err) {
          if (this.fail(write, err)) return;
          continue;
        }
        this.queue.shift();
        done++;
        this.landed(write);
      }
    } finally {
      restore?.();
      this.running = false;
      this.changed();
    }
  }

  private landed(write: StoreWrite): void {
    if (this.faults.delete("database")) {
      this.log?.info({ pending: this.queue.length }, "the store takes writes again: saving what waited in memory");
      this.attempt = 0;
      for (const l of this.successListeners) l();
    }
    write.settled?.(true);
  }

  /** A write threw. Returns true when it stays at the head of the queue (a storage fault, retried later). */
  private fail(write: StoreWrite, err: unknown): boolean {
    const fault = storageFault(err);
    this.lastError = describeError(err);
    if (!fault) {
      this.queue.shift();
      this.log?.error({ err, write: write.label }, "a store write failed and cannot succeed by retrying: dropped");
      write.settled?.(false);
      return false;
    }
    if (!this.faults.has("database")) {
      this.log?.warn({ code: fault.code, error: fault.message, write: write.label, pending: this.queue.length }, "store write failed: keeping writes in memory and retrying");
    }
    this.faults.set("database", fault);
    this.schedule(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(this.attempt++, 16)));
    return true;
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer || this.immediate) return;
    const run = () => {
      this.timer = this.immediate = undefined;
      this.drain();
    };
    if (delayMs === 0) this.immediate = setImmediate(run);
    else {
      this.timer = setTimeout(run, delayMs);
      this.timer.unref?.();
    }
  }

  /** Retries now instead of at the end of the backoff (another write just showed the storage is back). */
  private poke(): void {
    if (this.queue.length === 0 || this.immediate || this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  private shortBusyTimeout(): () => void {
    const configured = (this.db.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout;
    if (configured <= RETRY_BUSY_TIMEOUT_MS) return () => {};
    this.db.run(`PRAGMA busy_timeout = ${RETRY_BUSY_TIMEOUT_MS}`);
    return () => this.db.run(`PRAGMA busy_timeout = ${configured}`);
  }

  /** Listeners hear of a change in what health() says (pending count, fault, last error), not of every write. */
  private changed(): void {
    const h = this.health();
    const key = `${h.pending > 0}|${h.fault?.kind ?? ""}|${h.lastError ?? ""}`;
    if (key === this.lastChange) return;
    this.lastChange = key;
    for (const l of this.changeListeners) l();
  }
}
