import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";

/** Past this size the log is rotated (one previous file kept), so a board running for months keeps a bounded log. */
const ROTATE_BYTES = 32 * 1024 * 1024;
const CHECK_MS = 60_000;

/** The SkyNode's own log on disk (`<data>/logs/skynode.ndjson`, pino's JSON lines): what `log.export` sends. */
export class LogFile {
  readonly path: string;
  readonly stream: pino.DestinationStream & { flushSync(): void; reopen(): void; end(): void };
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(dataDir: string) {
    const dir = join(dataDir, "logs");
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, "skynode.ndjson");
    this.rotateIfLarge();
    this.stream = pino.destination({ dest: this.path, sync: false, append: true }) as LogFile["stream"];
    this.timer = setInterval(() => {
      if (this.rotateIfLarge()) this.stream.reopen();
    }, CHECK_MS);
    this.timer.unref();
  }

  /** Writes out what is still buffered, so an export includes the lines logged just before it. */
  flush(): void {
    try {
      this.stream.flushSync();
    } catch {
      // Nothing buffered, or the destination not open yet: nothing to write.
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
    this.stream.end();
  }

  private rotateIfLarge(): boolean {
    if (!existsSync(this.path) || statSync(this.path).size < ROTATE_BYTES) return false;
    renameSync(this.path, `${this.path}.1`);
    return true;
  }
}
