import { appendFileSync, existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { describeError } from "../store/storage-errors";

/** Past this size the log is rotated (one previous file kept), so a board running for months keeps a bounded log. */
const ROTATE_BYTES = 32 * 1024 * 1024;
const CHECK_MS = 60_000;
/** While the file cannot be written, how often writing it is tried again. */
const RECOVER_MS = 5000;

type Destination = ReturnType<typeof pino.destination>;

/** What the log file tells its owner: it stopped taking lines (the disk is full, the card fails) or takes them
 * again, with how many were dropped in between. */
export type LogFileState = { ok: false; error: string } | { ok: true; dropped: number };

/** The SkyNode's own log on disk (`<data>/logs/skynode.ndjson`, pino's JSON lines): what `log.export` sends.
 * A write error (ENOSPC, EIO) never escapes as an exception: the file is set aside, its lines are dropped and
 * counted, writing it is retried every few seconds, and it comes back by itself once the disk takes writes. */
export class LogFile {
  readonly path: string;
  /** What pino writes to; it forwards to the file while the file takes writes. */
  readonly stream: { write(line: string): void };
  private dest: Destination | null = null;
  private dropped = 0;
  private failure: string | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private recoverTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(dataDir: string, private readonly onState: (state: LogFileState) => void = () => {}) {
    const dir = join(dataDir, "logs");
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, "skynode.ndjson");
    this.rotateIfLarge();
    this.open();
    this.stream = {
      write: (line: string) => {
        if (this.dest) this.dest.write(line);
        else this.dropped++;
      },
    };
    this.timer = setInterval(() => {
      if (this.rotateIfLarge()) this.dest?.reopen();
    }, CHECK_MS);
    this.timer.unref();
  }

  /** Writes out what is still buffered, so an export includes the lines logged just before it. */
  flush(): void {
    try {
      this.dest?.flushSync();
    } catch {
      // Nothing buffered, the destination not open yet, or the disk refusing: nothing more can be written now.
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.recoverTimer);
    this.flush();
    this.dest?.end();
  }

  private open(): void {
    const dest = pino.destination({ dest: this.path, sync: false, append: true });
    // Without a listener an 'error' event is an uncaught exception: the process would die of a full disk.
    dest.on("error", (err: Error) => this.failed(dest, err));
    this.dest = dest;
  }

  private failed(dest: Destination, err: Error): void {
    if (this.dest !== dest) return;
    this.dest = null;
    this.failure = describeError(err);
    try {
      dest.destroy();
    } catch {
      // Already closed.
    }
    this.onState({ ok: false, error: this.failure });
    if (this.closed) return;
    this.recoverTimer = setInterval(() => this.recover(), RECOVER_MS);
    this.recoverTimer.unref();
  }

  /** Tries one line synchronously; only when it lands does the file get its destination back. */
  private recover(): void {
    const dropped = this.dropped;
    const line = JSON.stringify({ level: 40, time: Date.now(), msg: "log file writable again", dropped_lines: dropped, error: this.failure });
    try {
      appendFileSync(this.path, `${line}\n`);
    } catch {
      return;
    }
    clearInterval(this.recoverTimer);
    this.recoverTimer = undefined;
    this.failure = null;
    this.dropped = 0;
    this.open();
    this.onState({ ok: true, dropped });
  }

  private rotateIfLarge(): boolean {
    try {
      if (!existsSync(this.path) || statSync(this.path).size < ROTATE_BYTES) return false;
      renameSync(this.path, `${this.path}.1`);
      return true;
    } catch {
      // An I/O error on the card: the log grows a little longer, and the next check tries again.
      return false;
    }
  }
}
