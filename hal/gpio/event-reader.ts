// Edge events from a line-request fd without blocking the event loop. read() on that fd blocks and Bun has no
// poller for an anonymous-inode fd we can rely on (it was never tried against a real chip here, and addons that
// bring their own poller crash Bun: DESIGN.md §5), so a worker thread poll()s [request fd, wake pipe] and posts
// each batch of records here, where they become LineEdge signals in order. The wake pipe lets stop() end the
// worker before the owner closes the fd, so a closed (and reused) fd number is never polled or read.
import type { LineEdge } from "./chip";
import * as libc from "./libc";
import { decodeLineEvents, LINE_EVENT_SIZE, LineEventId } from "./uapi";
import { silentLog, type HalLog } from "../log";
import { Signal } from "../signal";

/** The worker's progress, in one Int32 of shared memory: the handshake that makes stop() synchronous. */
export const ReaderState = {
  /** Started, not yet touching the fds. */
  Idle: 0,
  /** In its poll/read loop. */
  Polling: 1,
  /** Out of the loop for good: the fds may be closed. */
  Stopped: 2,
  /** Stopped by the owner before it began: it must never touch the fds. */
  Cancelled: 3,
} as const;

export interface ReaderInit {
  fd: number;
  wakeFd: number;
  state: SharedArrayBuffer;
  reflexes: ReaderReflex[];
}

/** A reflex as the reader thread gets it (see chip.ts Reflex): the wire's shared memory, not the object, and the
 * latch's index on it. */
export interface ReaderReflex {
  offset: number;
  wire: SharedArrayBuffer;
  bytes: Uint8Array;
  latch?: number;
}

export type ReaderMessage =
  /** In the poll loop: edges are read from now on. */
  | { type: "ready" }
  | { type: "data"; bytes: ArrayBuffer }
  | { type: "eof" }
  | { type: "error"; message: string }
  /** The reflex thread could not get real-time priority (errno name): it runs, but may wait for a time slice. */
  | { type: "priority"; refused: string };

/** How long stop() waits for the worker to leave poll() (it takes microseconds; this only bounds a hung thread). */
const STOP_TIMEOUT_MS = 2000;

export interface EventReaderOptions {
  /** Names the fd in log lines, e.g. "/dev/gpiochip0 lines 17,27". */
  name?: string;
  log?: HalLog;
  /** Written by the reader thread itself on these lines' rising edges (chip.ts Reflex). */
  reflexes?: ReaderReflex[];
}

export class EventReader {
  /** Each edge in kernel order, as soon as its batch reaches the main thread. */
  readonly edges = new Signal<LineEdge>();
  /** A gap in seqno: the kernel's event buffer overflowed and `missing` edges before `seqno` were lost. */
  readonly dropped = new Signal<{ missing: number; seqno: number }>();
  /** The thread is in its poll loop (once). */
  readonly ready = new Signal<void>();
  /** The thread is gone without stop() (once): it hit an error or end of file, threw, or was terminated. No edge is
   * read after this; the reason says why. */
  readonly failed = new Signal<string>();
  /** The reader thread. Terminating it from outside counts as a failure (its close event is watched). */
  readonly worker: Worker;
  private readonly state = new Int32Array(new SharedArrayBuffer(4));
  private readonly wake: [number, number];
  private readonly name: string;
  private readonly log: HalLog;
  private lastSeqno = 0;
  private stopped = false;
  /** Set on the thread's failure: why. */
  private failure: string | null = null;
  /** The worker's JavaScript has ended (close event): it will never touch the fds or answer a wake-up again. */
  private closed = false;

  /** Starts reading `fd`, which stays the caller's: close it only after stop(). */
  constructor(
    readonly fd: number,
    opts: EventReaderOptions = {},
  ) {
    this.name = opts.name ?? `fd ${fd}`;
    this.log = opts.log ?? silentLog;
    this.wake = libc.pipe();
    // Never keeps the process alive: a worker blocked in poll() does not hold up exit.
    this.worker = new Worker(new URL("./event-reader.worker.ts", import.meta.url).href, { ref: false });
    this.worker.unref();
    this.worker.onmessage = (e: MessageEvent<ReaderMessage>) => this.receive(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      if (this.stopped) return;
      this.log.error({ reader: this.name, error: e.message }, "GPIO event reader thread failed: edges are no longer read");
      this.fail(`the reader thread failed: ${e.message}`);
    };
    // A thread blocked in poll() still ends its JavaScript on terminate(), and never runs it again: this fires at
    // once, whoever terminated it.
    this.worker.addEventListener("close", () => {
      this.closed = true;
      if (this.stopped) return;
      this.log.error({ reader: this.name }, "GPIO event reader thread was terminated: edges are no longer read");
      this.fail("the reader thread was terminated");
    });
    const init: ReaderInit = { fd, wakeFd: this.wake[0], state: this.state.buffer as SharedArrayBuffer, reflexes: opts.reflexes ?? [] };
    this.worker.postMessage(init);
  }

  /** Stops the worker and waits until it no longer touches the fd (synchronous: the caller may close the fd
   * straight after). Edges still in flight are discarded. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const before = Atomics.compareExchange(this.state, 0, ReaderState.Idle, ReaderState.Cancelled);
    if (before === ReaderState.Polling) {
      // Also wakes a terminated thread still blocked in the kernel's poll(); only a live one can answer.
      libc.writeAll(this.wake[1], new Uint8Array(1), "write to the event reader's wake pipe");
      if (!this.closed && Atomics.wait(this.state, 0, ReaderState.Polling, STOP_TIMEOUT_MS) === "timed-out") {
        this.log.error({ reader: this.name }, "GPIO event reader thread did not stop in time");
      }
    }
    this.worker.terminate();
    libc.close(this.wake[0]);
    libc.close(this.wake[1]);
  }

  /** Why the thread failed, or null while it runs (or was stopped). */
  get failedWith(): string | null {
    return this.failure;
  }

  private fail(reason: string): void {
    if (this.failure !== null || this.stopped) return;
    this.failure = reason;
    this.failed.emit(reason);
  }

  private receive(message: ReaderMessage): void {
    if (this.stopped || this.failure !== null) return;
    switch (message.type) {
      case "ready":
        this.ready.emit();
        return;
      case "data":
        return this.deliver(message.bytes);
      case "eof":
        this.log.warn({ reader: this.name }, "GPIO event fd reached end of file: no more edges");
        this.fail("the event fd reached end of file");
        return;
      case "error":
        this.log.error({ reader: this.name, error: message.message }, "GPIO event reader stopped on an error");
        this.fail(message.message);
        return;
      case "priority":
        this.log.warn(
          { reader: this.name, refused: message.refused },
          "the limit reflex thread runs at normal priority: give the service CAP_SYS_NICE (or run it as root) for real-time wake-ups",
        );
        return;
    }
  }

  private deliver(bytes: ArrayBuffer): void {
    const whole = bytes.byteLength - (bytes.byteLength % LINE_EVENT_SIZE);
    if (whole !== bytes.byteLength) {
      // Never from the kernel (it returns whole records only): report it rather than drop bytes unseen.
      this.log.error(
        { reader: this.name, bytes: bytes.byteLength, trailing: bytes.byteLength - whole },
        "GPIO event read returned a partial record: trailing bytes discarded",
      );
    }
    for (const ev of decodeLineEvents(new Uint8Array(bytes, 0, whole))) {
      if (this.stopped) return;
      if (ev.id !== LineEventId.RISING_EDGE && ev.id !== LineEventId.FALLING_EDGE) {
        this.log.error({ reader: this.name, id: ev.id, offset: ev.offset }, "GPIO event with an unknown id ignored");
        continue;
      }
      const missing = (ev.seqno - this.lastSeqno - 1) >>> 0;
      if (missing > 0 && missing < 0x80000000) {
        this.log.warn({ reader: this.name, missing, seqno: ev.seqno }, "GPIO edge events were dropped by the kernel (buffer overflow)");
        this.dropped.emit({ missing, seqno: ev.seqno });
      }
      this.lastSeqno = ev.seqno;
      this.edges.emit({ offset: ev.offset, rising: ev.id === LineEventId.RISING_EDGE, timestampNs: ev.timestampNs, seqno: ev.seqno });
    }
  }
}
