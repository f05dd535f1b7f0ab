import type { Bias, Edge, EdgeHealth, GpioChip, GpioInputs, GpioOutputs, InputRequest, LineEdge, OutputRequest, Reflex } from "../gpio/chip";
import * as libc from "../gpio/libc";
import { SupervisedReader, type Backoff } from "../gpio/supervised-reader";
import { checkOffsets, EBUSY, encodeLineEvents, GpioError, inputConfig, LineEventId, outputConfig, type ChipInfo } from "../gpio/uapi";
import { silentLog, type HalLog } from "../log";
import { Signal } from "../signal";

export interface SimGpioChipOptions {
  label: string;
  lines: number;
  /** As the kernel would name it; default "gpiochip-sim". */
  name?: string;
  /** Milliseconds on a monotonic clock, for edge timestamps (default performance.now). */
  now?: () => number;
  /** Edges reach the main thread the way a real chip's do: as kernel event records written into a pipe (standing in
   * for the line request fd) that the real EventReader thread reads, running the request's reflexes first; a reader
   * that fails is restarted with backoff like a real chip's (see failReaders). Default: edges are emitted
   * synchronously from drive() and reflexes are recorded, not run. */
  readerThread?: boolean | { backoff?: Backoff };
  log?: HalLog;
}

/** How failReaders breaks a reader thread, as a real one can break. */
export type ReaderFault =
  /** Its fd reads end of file (here: the pipe's writer closes). */
  | "eof"
  /** read() fails (here: the fd is swapped for a directory's, which reads EISDIR). */
  | "error"
  /** The thread is terminated from outside. */
  | "terminate";

interface InputLine {
  offset: number;
  activeLow: boolean;
  bias: Bias;
  edge: Edge;
  debounceUs: number;
  /** The last physical level seen: a change of it is an interrupt. */
  seen: boolean;
  /** The debounced physical level (equal to `seen` without debounce): what values() and edges follow. */
  level: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface OutputLine {
  offset: number;
  activeLow: boolean;
  drive: "push-pull" | "open-drain" | "open-source";
  /** Logical value set. */
  value: boolean;
}

type Holder = { consumer: string; kind: "input"; request: SimInputs } | { consumer: string; kind: "output"; request: SimOutputs };

/** A simulated GPIO chip with the kernel's semantics (gpiolib-cdev): logical value = physical level XOR active-low;
 * bias decides the level only when nothing drives the pin; edges follow the requested edge flags on logical
 * transitions; debounce reports a level once it has been stable for the period (shorter bounces produce nothing)
 * and values() read the debounced level; seqno counts a request's events; a line held by one request is EBUSY to
 * the next. Without debounce (and without readerThread) an edge is emitted synchronously from drive(): the
 * limit-switch safety path measures edge-to-stop latency from there. */
export class SimGpioChip implements GpioChip {
  readonly info: ChipInfo;
  readonly now: () => number;
  /** What the outside world does to each pin: a level, or undefined when nothing drives it. */
  private readonly external: (boolean | undefined)[];
  /** The level an output left on a pin after its release (most SoCs keep driving it). */
  private readonly lastDriven: (boolean | undefined)[];
  private readonly holders: (Holder | null)[];
  private pendingDebounce = 0;
  private held: string | null = null;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: SimGpioChipOptions) {
    const opts = options;
    if (!Number.isInteger(opts.lines) || opts.lines < 1) throw new RangeError(`a chip has at least one line, not ${opts.lines}`);
    this.info = { name: opts.name ?? "gpiochip-sim", label: opts.label, lines: opts.lines };
    this.now = opts.now ?? (() => performance.now());
    this.external = new Array<boolean | undefined>(opts.lines).fill(undefined);
    this.lastDriven = new Array<boolean | undefined>(opts.lines).fill(undefined);
    this.holders = new Array<Holder | null>(opts.lines).fill(null);
  }

  /** Drives an input pin's physical level from outside (a switch closing, a test). */
  drive(offset: number, physicalHigh: boolean): void {
    this.external[this.checkLine(offset)] = physicalHigh;
    this.sense(offset);
  }

  /** Stops driving a pin from outside: it then reads per its bias. */
  float(offset: number): void {
    this.external[this.checkLine(offset)] = undefined;
    this.sense(offset);
  }

  /** A pin's physical level now. An open-drain output set high (or open-source set low) lets go of the pin: it reads
   * what drives it from outside, else high (open-drain: the pull-up such a circuit needs) or low (open-source). An
   * undriven pin without a pull reads low. */
  level(offset: number): boolean {
    const h = this.holders[this.checkLine(offset)];
    if (h?.kind === "output") {
      const line = h.request.line(offset);
      const physical = line.value !== line.activeLow;
      if (line.drive === "open-drain" && physical) return this.external[offset] ?? true;
      if (line.drive === "open-source" && !physical) return this.external[offset] ?? false;
      return physical;
    }
    const ext = this.external[offset];
    if (ext !== undefined) return ext;
    if (h?.kind === "input") {
      const bias = h.request.line(offset).bias;
      if (bias === "pull-up") return true;
      if (bias === "pull-down") return false;
    }
    return this.lastDriven[offset] ?? false;
  }

  /** The consumer holding a line, as `gpioinfo` shows it, or null. */
  holder(offset: number): string | null {
    return this.holders[this.checkLine(offset)]?.consumer ?? null;
  }

  /** Resolves once no debounce period is running (every pending level change has been reported or discarded). */
  settled(): Promise<void> {
    return this.pendingDebounce === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The reflexes input requests asked for. Without readerThread they are recorded, never run: a simulated edge
   * reaches the main thread synchronously, where the limit guard's own halt stops the motor first (and trips the
   * line's latch). With it, the reader thread runs them. */
  readonly reflexes: Reflex[] = [];

  /** Breaks the reader thread of every request that has one (readerThread chips only). */
  failReaders(how: ReaderFault): void {
    const inputs = new Set(this.holders.flatMap((h) => (h?.kind === "input" ? [h.request] : [])));
    for (const i of inputs) i.failReader(how);
  }

  /** While a reason is held, a reader thread cannot be (re)started: opening its fd fails with that reason, as when
   * the chip has gone away. null lets the next restart succeed. */
  holdReaders(reason: string | null): void {
    this.held = reason;
  }

  /** What holds the readers down (see holdReaders), or null. */
  get readersHeld(): string | null {
    return this.held;
  }

  requestInputs(request: InputRequest): GpioInputs {
    const offsets = this.claimable(request.lines.map((l) => l.offset));
    this.reflexes.push(...(request.reflexes ?? []));
    inputConfig(request); // the kernel's limit on distinct settings per request
    const threaded = this.options.readerThread;
    const thread = threaded
      ? {
          name: `${this.info.name} [${this.info.label}] lines ${offsets.join(",")}`,
          log: this.options.log ?? silentLog,
          backoff: typeof threaded === "object" ? threaded.backoff : undefined,
          reflexes: (request.reflexes ?? []).map((r) => ({ offset: r.offset, wire: r.wire.buffer, bytes: r.bytes, latch: r.latch?.id })),
        }
      : null;
    const inputs = new SimInputs(this, request.lines, thread);
    for (const o of offsets) {
      this.holders[o] = { consumer: request.consumer, kind: "input", request: inputs };
      this.lastDriven[o] = undefined; // now an input: the chip stops driving it
    }
    inputs.start();
    return inputs;
  }

  requestOutputs(request: OutputRequest): GpioOutputs {
    const offsets = this.claimable(request.lines.map((l) => l.offset));
    outputConfig(request);
    const outputs = new SimOutputs(this, request.lines);
    for (const o of offsets) this.holders[o] = { consumer: request.consumer, kind: "output", request: outputs };
    return outputs;
  }

  /** Releases every request and refuses new ones. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of new Set(this.holders)) h?.request.release();
  }

  /** @internal Called by a request's release(). */
  free(offsets: number[], request: SimInputs | SimOutputs): void {
    for (const o of offsets) {
      const h = this.holders[o];
      if (h?.request !== request) continue;
      if (h.kind === "output") this.lastDriven[o] = this.level(o);
      this.holders[o] = null;
    }
  }

  /** @internal Debounce bookkeeping for settled(). */
  debounceStarted(): void {
    this.pendingDebounce++;
  }

  /** @internal */
  debounceEnded(): void {
    if (--this.pendingDebounce > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private sense(offset: number): void {
    const h = this.holders[offset];
    if (h?.kind === "input") h.request.sense(offset);
  }

  private checkLine(offset: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.info.lines) {
      throw new RangeError(`line ${offset} is not on ${this.info.name} [${this.info.label}] (${this.info.lines} lines)`);
    }
    return offset;
  }

  private claimable(offsets: number[]): number[] {
    if (this.closed) throw new Error(`${this.info.name} [${this.info.label}] is closed`);
    checkOffsets(offsets, this.info);
    const held = offsets.flatMap((o) => {
      const h = this.holders[o];
      return h ? [`line ${o} is held by '${h.consumer}'`] : [];
    });
    if (held.length > 0) {
      throw new GpioError(
        `GPIO_V2_GET_LINE_IOCTL on ${this.info.name} (lines ${offsets.join(",")}) failed: Device or resource busy (EBUSY): ${held.join(", ")}`,
        EBUSY,
      );
    }
    return offsets;
  }
}

/** What a readerThread request reads through: the pipe standing in for its line request fd. */
interface ThreadOptions {
  name: string;
  log: HalLog;
  backoff: Backoff | undefined;
  reflexes: { offset: number; wire: SharedArrayBuffer; bytes: Uint8Array; latch?: number }[];
}

class SimInputs implements GpioInputs {
  readonly edges = new Signal<LineEdge>();
  readonly health = new Signal<EdgeHealth>();
  private readonly lines: InputLine[];
  private seqno = 0;
  private released = false;
  private readonly reader: SupervisedReader | null = null;
  /** The pipe the current reader thread reads: records go in at `w` (null once closed). */
  private pipe: { r: number; w: number | null } | null = null;

  constructor(
    private readonly chip: SimGpioChip,
    lines: InputRequest["lines"],
    thread: ThreadOptions | null,
  ) {
    if (thread) {
      const source = {
        open: () => {
          const held = this.chip.readersHeld;
          if (held !== null) throw new Error(held);
          // Non-blocking writes: a reader that stopped reading loses edges (as the kernel's full buffer does), it
          // never blocks the thread that drives the pins.
          const [r, w] = libc.pipe(libc.O_NONBLOCK);
          this.pipe = { r, w };
          return r;
        },
        release: (r: number) => {
          const p = this.pipe;
          libc.close(r);
          if (p?.r !== r) return;
          if (p.w !== null) libc.close(p.w);
          this.pipe = null;
        },
      };
      this.reader = new SupervisedReader(source, thread);
      this.reader.edges.on((e) => this.edges.emit(e));
      this.reader.health.on((h) => this.health.emit(h));
    }
    this.lines = lines.map((l) => ({
      offset: l.offset,
      activeLow: l.activeLow ?? false,
      bias: l.bias ?? "as-is",
      edge: l.edge ?? "none",
      debounceUs: l.debounceUs ?? 0,
      seen: false,
      level: false,
      timer: undefined,
    }));
  }

  /** Takes the levels as they are once the lines are held (and biased): a request starts without edges. */
  start(): void {
    for (const l of this.lines) l.seen = l.level = this.chip.level(l.offset);
  }

  line(offset: number): InputLine {
    const l = this.lines.find((x) => x.offset === offset);
    if (!l) throw new RangeError(`line ${offset} is not in this request`);
    return l;
  }

  values(): boolean[] {
    if (this.released) throw new Error("GPIO input lines were released");
    return this.lines.map((l) => l.level !== l.activeLow);
  }

  /** A physical level change on one of our pins: what the kernel's interrupt handler sees. */
  sense(offset: number): void {
    const l = this.line(offset);
    const level = this.chip.level(offset);
    if (level === l.seen) return;
    l.seen = level;
    if (l.debounceUs === 0) return this.settle(l);
    // Every transition restarts the period (the kernel's mod_delayed_work); the level is read when it ends.
    if (l.timer === undefined) this.chip.debounceStarted();
    else clearTimeout(l.timer);
    l.timer = setTimeout(() => {
      l.timer = undefined;
      this.settle(l);
      this.chip.debounceEnded();
    }, l.debounceUs / 1000);
    l.timer.unref?.();
  }

  /** See SimGpioChip.failReaders. */
  failReader(how: ReaderFault): void {
    const p = this.pipe;
    const reader = this.reader?.reader;
    if (!p || !reader) return;
    if (how === "terminate") {
      reader.worker.terminate();
    } else if (how === "eof") {
      if (p.w !== null) libc.close(p.w);
      p.w = null;
    } else {
      const dir = libc.open("/", libc.O_RDONLY | libc.O_CLOEXEC);
      libc.dup(dir, p.r);
      libc.close(dir);
      // The thread sleeps in poll() on the pipe it had; closing the pipe's writer wakes it to look at the fd again,
      // now the directory's, which polls readable and reads EISDIR.
      if (p.w !== null) libc.close(p.w);
      p.w = null;
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.reader?.stop();
    for (const l of this.lines) {
      if (l.timer === undefined) continue;
      clearTimeout(l.timer);
      l.timer = undefined;
      this.chip.debounceEnded();
    }
    this.chip.free(
      this.lines.map((l) => l.offset),
      this,
    );
  }

  private settle(l: InputLine): void {
    const level = this.chip.level(l.offset);
    if (level === l.level) return;
    l.level = level;
    const rising = level !== l.activeLow;
    const wanted = l.edge === "both" || l.edge === (rising ? "rising" : "falling");
    if (!wanted) return;
    this.seqno++;
    const timestampNs = BigInt(Math.round(this.chip.now() * 1e6));
    if (!this.reader) {
      this.edges.emit({ offset: l.offset, rising, timestampNs, seqno: this.seqno });
      return;
    }
    // No reader thread now (restarting): the edge is lost, as it would be between two line requests.
    const w = this.pipe?.w;
    if (w === null || w === undefined) return;
    const id = rising ? LineEventId.RISING_EDGE : LineEventId.FALLING_EDGE;
    try {
      libc.writeAll(w, encodeLineEvents([{ timestampNs, id, offset: l.offset, seqno: this.seqno, lineSeqno: this.seqno }]), "simulated GPIO event");
    } catch {
      // Pipe full: a reader that stopped reading, and the edge lost; the seqno gap tells the owner.
    }
  }
}

class SimOutputs implements GpioOutputs {
  private readonly lines: OutputLine[];
  private released = false;

  constructor(
    private readonly chip: SimGpioChip,
    lines: OutputRequest["lines"],
  ) {
    this.lines = lines.map((l) => ({ offset: l.offset, activeLow: l.activeLow ?? false, drive: l.drive ?? "push-pull", value: l.initial }));
  }

  line(offset: number): OutputLine {
    const l = this.lines.find((x) => x.offset === offset);
    if (!l) throw new RangeError(`line ${offset} is not in this request (${this.lines.map((x) => x.offset).join(",")})`);
    return l;
  }

  set(offset: number, value: boolean): void {
    if (this.released) throw new Error("GPIO output lines were released");
    this.line(offset).value = value;
  }

  values(): boolean[] {
    if (this.released) throw new Error("GPIO output lines were released");
    return this.lines.map((l) => l.value);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.chip.free(
      this.lines.map((l) => l.offset),
      this,
    );
  }
}
