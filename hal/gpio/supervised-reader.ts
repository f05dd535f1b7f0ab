// An EventReader kept alive. A reader thread that dies (an error, end of file, an uncaught exception, terminated
// from outside) would leave its lines unwatched while everything above still believes the last edge: here its death
// is reported at once (health: not reading, and why), and a new thread is started after a backoff that doubles per
// failure up to a cap, on a fresh fd from the source. Health is reported again once the new thread polls; edges
// in between are lost, so the owner re-reads the line levels then.
import type { EdgeHealth, LineEdge } from "./chip";
import { EventReader, type EventReaderOptions } from "./event-reader";
import { silentLog, type HalLog } from "../log";
import { Signal } from "../signal";

/** Where a reader thread's fd comes from. */
export interface ReaderSource {
  /** An fd for a new reader thread (a line request fd, or a pipe standing in for one). Throwing counts as a failed
   * start, retried like any other. */
  open(): number;
  /** The thread that read `fd` no longer touches it. */
  release(fd: number): void;
}

export interface Backoff {
  /** Wait before the first restart. */
  initialMs: number;
  /** Longest wait; a reader that polled this long before failing starts the doubling afresh. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 50, maxMs: 5000 };

export interface SupervisedReaderOptions extends EventReaderOptions {
  backoff?: Backoff;
}

export class SupervisedReader {
  readonly edges = new Signal<LineEdge>();
  readonly dropped = new Signal<{ missing: number; seqno: number }>();
  /** Each change of health: not reading (with the reason) as soon as a thread fails, reading once a new one polls. */
  readonly health = new Signal<EdgeHealth>();
  private readonly name: string;
  private readonly log: HalLog;
  private readonly backoff: Backoff;
  private now: EdgeHealth = { reading: true };
  private current: { reader: EventReader; fd: number; readyAt: number | null } | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly source: ReaderSource,
    private readonly opts: SupervisedReaderOptions = {},
  ) {
    this.name = opts.name ?? "GPIO event reader";
    this.log = opts.log ?? silentLog;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.start();
  }

  /** Reading, or why not. */
  get state(): EdgeHealth {
    return this.now;
  }

  /** The thread now reading, if any (tests reach its worker through it). */
  get reader(): EventReader | null {
    return this.current?.reader ?? null;
  }

  /** Stops the thread (synchronously: the source's fd is released before this returns) and any restart. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.retire();
  }

  private start(): void {
    if (this.stopped) return;
    let fd: number;
    try {
      fd = this.source.open();
    } catch (err) {
      this.failed(`it could not be restarted: ${err instanceof Error ? err.message : String(err)}`, null);
      return;
    }
    let reader: EventReader;
    try {
      reader = new EventReader(fd, this.opts);
    } catch (err) {
      this.source.release(fd);
      this.failed(`it could not be restarted: ${err instanceof Error ? err.message : String(err)}`, null);
      return;
    }
    const run = { reader, fd, readyAt: null as number | null };
    this.current = run;
    reader.edges.on((e) => this.edges.emit(e));
    reader.dropped.on((d) => this.dropped.emit(d));
    reader.ready.on(() => {
      if (this.current !== run) return;
      run.readyAt = performance.now();
      if (!this.now.reading) {
        this.log.info({ reader: this.name, failures: this.failures }, "GPIO event reader restarted: edges are read again");
        this.set({ reading: true });
      }
    });
    reader.failed.on((reason) => {
      if (this.current === run) this.failed(reason, run.readyAt);
    });
  }

  /** The thread of the run that polled since `readyAt` (null: never polled) failed: report, clean up, retry later. */
  private failed(reason: string, readyAt: number | null): void {
    if (this.stopped) return;
    this.retire();
    if (readyAt !== null && performance.now() - readyAt >= this.backoff.maxMs) this.failures = 0;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    this.failures++;
    this.log.error({ reader: this.name, reason, retry_ms: delay }, "GPIO event reader failed: its lines are unwatched until it is restarted");
    if (this.now.reading || this.now.reason !== reason) this.set({ reading: false, reason });
    this.timer = setTimeout(() => this.start(), delay);
    this.timer.unref?.();
  }

  private retire(): void {
    const run = this.current;
    this.current = null;
    if (!run) return;
    run.reader.stop();
    this.source.release(run.fd);
  }

  private set(health: EdgeHealth): void {
    this.now = health;
    this.health.emit(health);
  }
}
