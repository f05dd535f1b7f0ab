// One serial line written from two threads: the main thread's driver, and a reflex on another thread (the GPIO
// event reader stopping a motor on a limit edge without waiting for the main thread). Plain shared memory and
// Atomics, no imports: the reader thread loads this module too.
//
// Layout (Int32): LOCK, FD (the open fd, -1 while closed), MAIN (writes the main thread has put on the line), OOB
// (out-of-band writes so far), then a ring of RING entries: for the n-th out-of-band write, the value of MAIN when
// it went out, i.e. how many of the main thread's writes precede it on the line. After it, a Float64 ring: when each
// out-of-band write returned (wall clock, ms).
const LOCK = 0;
const FD = 1;
const MAIN = 2;
const OOB = 3;
const RING_AT = 4;
const RING = 256;
const INTS = RING_AT + RING; // even: the Float64 ring that follows is 8-byte aligned

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

/** The main thread's side, owned by the serial port (and read by its driver). */
export class SharedWire {
  readonly buffer = new SharedArrayBuffer(INTS * 4 + RING * 8);
  private readonly a = new Int32Array(this.buffer, 0, INTS);
  private readonly times = new Float64Array(this.buffer, INTS * 4, RING);

  constructor() {
    Atomics.store(this.a, FD, -1);
  }

  /** The fd now open (or -1): changed under the lock, so a reflex never writes to a closed or reused fd. */
  setFd(fd: number): void {
    lock(this.a, false);
    Atomics.store(this.a, FD, fd);
    unlock(this.a);
  }

  /** Runs one main-thread write under the lock; `count`: it is a new command (not the rest of an earlier one). */
  write<T>(write: () => T, count = true): T {
    lock(this.a, false);
    try {
      return write();
    } finally {
      if (count) Atomics.add(this.a, MAIN, 1);
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

/** The other thread's side: writes `bytes` out of band with `write` (e.g. libc write(2)), under the lock, if a port
 * is open; records where it went. Returns false when nothing was written (port closed, write failed). */
export function writeOutOfBand(buffer: SharedArrayBuffer, bytes: Uint8Array, write: (fd: number, bytes: Uint8Array) => boolean): boolean {
  const a = new Int32Array(buffer, 0, INTS);
  lock(a, true);
  try {
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
