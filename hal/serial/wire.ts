// One serial line written from two threads: the main thread's driver, and a reflex on another thread (the GPIO
// event reader stopping a motor on a limit edge without waiting for the main thread). Plain shared memory and
// Atomics, no imports: the reader thread loads this module too.
//
// Layout (Int32): LOCK, FD (the open fd, -1 while closed), MAIN (writes the main thread has put on the line), OOB
// (out-of-band writes so far), then a ring of RING entries: for the n-th out-of-band write, the value of MAIN when
// it went out, i.e. how many of the main thread's writes precede it on the line. Then LATCHES latches of two words
// each: TRIPS (trips counted so far, by a reflex or the main thread) and RELEASED (the TRIPS value the main thread
// last released it at); what each latch blocks is known on the main thread only. After them, a Float64 ring: when
// each out-of-band write returned (wall clock, ms).
//
// A latch is how a limit trip seen first on the reflex thread reaches the main thread's writes: the reflex counts
// the trip under the lock before its stop goes out, and every main-thread write is offered, under the same lock, to
// the driver's guard, which refuses a motion start that a tripped latch blocks. The wire itself knows no protocol.
const LOCK = 0;
const FD = 1;
const MAIN = 2;
const OOB = 3;
const RING_AT = 4;
const RING = 256;
const LATCH_AT = RING_AT + RING;
const LATCHES = 16;
const TRIPS = 0;
const RELEASED = 1;
const LATCH_WORDS = 2;
const INTS = LATCH_AT + LATCHES * LATCH_WORDS; // even: the Float64 ring that follows is 8-byte aligned

/** The lock is held only around one write(2) of a few bytes. The main thread spins (it may not Atomics.wait); the
 * other thread sleeps on the lock word instead, because it may run at real-time priority: spinning there could keep
 * a preempted main thread, holding the lock, off its core. */
function lock(a: Int32Array, sleep: boolean): void {
  while (Atomics.compareExchange(a, LOCK, 0, 1) !== 0) {
    if (sleep) Atomics.wait(a, LOCK, 1, 1);
  }
}

function unlock(a: Int32Array): void {
  Atomics.store(a, LOCK, 0);
  Atomics.notify(a, LOCK);
}

/** Decides, under the line lock, whether a main-thread write may go out. `tripped(key)` names the latches of that
 * key that are tripped now (empty: none). Returns the error to throw instead of writing, or null. A driver's guard
 * may keep state (what the bytes it admitted set up on the device); it is only ever called on the main thread. */
export type WireGuard = (bytes: Uint8Array, tripped: (key: number) => readonly string[]) => Error | null;

/** One latch on a wire (main thread only): tripped from the time a trip is counted until the main thread releases
 * it at that count or later. */
export class WireLatch {
  constructor(
    private readonly a: Int32Array,
    /** Its index, for the reflex thread (ReaderReflex.latch). */
    readonly id: number,
    readonly key: number,
    /** Names it in refusals, e.g. the limit switch's name. */
    readonly label: string,
  ) {}

  /** Counts a trip seen on this thread (a trip the reflex thread saw first is already counted). */
  trip(): void {
    Atomics.add(this.a, this.word(TRIPS), 1);
  }

  /** Trips counted so far: read it before checking that the cause is gone, then release at that count, so a trip
   * counted meanwhile (the reflex thread runs on) keeps the latch tripped. */
  trips(): number {
    return Atomics.load(this.a, this.word(TRIPS));
  }

  release(through: number): void {
    Atomics.store(this.a, this.word(RELEASED), through);
  }

  tripped(): boolean {
    return Atomics.load(this.a, this.word(TRIPS)) !== Atomics.load(this.a, this.word(RELEASED));
  }

  private word(i: number): number {
    return LATCH_AT + this.id * LATCH_WORDS + i;
  }
}

/** The main thread's side, owned by the serial port (and read by its driver). */
export class SharedWire {
  readonly buffer = new SharedArrayBuffer(INTS * 4 + RING * 8);
  private readonly a = new Int32Array(this.buffer, 0, INTS);
  private readonly times = new Float64Array(this.buffer, INTS * 4, RING);
  private readonly latches: WireLatch[] = [];
  private guard: WireGuard | null = null;
  private readonly trippedOf = (key: number): readonly string[] => {
    let names: string[] | null = null;
    for (const l of this.latches) if (l.key === key && l.tripped()) (names ??= []).push(l.label);
    return names ?? NONE;
  };

  constructor() {
    Atomics.store(this.a, FD, -1);
  }

  /** The fd now open (or -1): changed under the lock, so a reflex never writes to a closed or reused fd. */
  setFd(fd: number): void {
    lock(this.a, false);
    Atomics.store(this.a, FD, fd);
    unlock(this.a);
  }

  /** The driver's rule for which writes a tripped latch blocks (null: none). */
  setGuard(guard: WireGuard | null): void {
    this.guard = guard;
  }

  /** A new latch blocking what `key` means to the guard, untripped. Made before any reflex names it. */
  latch(key: number, label: string): WireLatch {
    if (!Number.isInteger(key) || key < 0) throw new RangeError(`a latch key is a non-negative integer, not ${key}`);
    const id = this.latches.length;
    if (id >= LATCHES) throw new RangeError(`a serial line has at most ${LATCHES} latches`);
    const latch = new WireLatch(this.a, id, key, label);
    this.latches.push(latch);
    return latch;
  }

  /** Names of the tripped latches of `key`. */
  tripped(key: number): readonly string[] {
    return this.trippedOf(key);
  }

  /** Runs one main-thread write under the lock; `count`: it is a new command (not the rest of an earlier one).
   * With `bytes`, the guard sees them first: a refusal is thrown and nothing is written or counted. */
  write<T>(write: () => T, count = true, bytes?: Uint8Array): T {
    lock(this.a, false);
    try {
      if (bytes && this.guard) {
        const refusal = this.guard(bytes, this.trippedOf);
        if (refusal) throw refusal;
      }
      const result = write();
      if (count) Atomics.add(this.a, MAIN, 1);
      return result;
    } finally {
      unlock(this.a);
    }
  }

  /** Writes the main thread has put on the line so far. */
  mainWrites(): number {
    return Atomics.load(this.a, MAIN);
  }

  /** How many out-of-band writes the ring remembers: a reader further behind has lost their places. */
  static readonly RING = RING;

  /** Out-of-band writes so far. */
  oobWrites(): number {
    return Atomics.load(this.a, OOB);
  }

  /** For the n-th out-of-band write (0-based): how many main-thread writes went before it. */
  oobAfter(n: number): number {
    return Atomics.load(this.a, RING_AT + (n % RING));
  }

  /** When the n-th out-of-band write returned (performance.timeOrigin + performance.now(), ms). */
  oobWrittenAt(n: number): number {
    return this.times[n % RING]!;
  }
}

const NONE: readonly string[] = Object.freeze([]);

/** The other thread's side: counts a trip of latch `latch` (if given), then writes `bytes` out of band with `write`
 * (e.g. libc write(2)) if a port is open, all under the lock; records where the write went. The trip is counted even
 * when nothing can be written: the refusal then waits for the port to come back. Returns false when nothing was
 * written (port closed, write failed). */
export function writeOutOfBand(
  buffer: SharedArrayBuffer,
  bytes: Uint8Array,
  write: (fd: number, bytes: Uint8Array) => boolean,
  latch?: number,
): boolean {
  const a = new Int32Array(buffer, 0, INTS);
  lock(a, true);
  try {
    if (latch !== undefined && latch >= 0 && latch < LATCHES) Atomics.add(a, LATCH_AT + latch * LATCH_WORDS + TRIPS, 1);
    const fd = Atomics.load(a, FD);
    if (fd < 0 || !write(fd, bytes)) return false;
    const n = Atomics.load(a, OOB);
    new Float64Array(buffer, INTS * 4, RING)[n % RING] = performance.timeOrigin + performance.now();
    Atomics.store(a, RING_AT + (n % RING), Atomics.load(a, MAIN));
    Atomics.store(a, OOB, n + 1);
    return true;
  } finally {
    unlock(a);
  }
}
