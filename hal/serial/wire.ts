// One serial line written from two threads: the main thread's driver, and a reflex on another thread (the GPIO
// event reader stopping a motor on a limit edge without waiting for the main thread). Plain shared memory and
// Atomics, no imports: the reader thread loads this module too.
//
// Layout (Int32): LOCK, FD (the open fd, -1 while closed), MAIN (writes the main thread has put on the line), OOB
// (out-of-band writes so far), then a ring of RING entries: for the n-th out-of-band write, the value of MAIN when
// it went out, i.e. how many of the main thread's writes precede it on the line.
const LOCK = 0;
const FD = 1;
const MAIN = 2;
const OOB = 3;
const RING_AT = 4;
const RING = 64;

/** Spins: the lock is held only around one write(2) of a few bytes. The main thread may not Atomics.wait. */
function lock(a: Int32Array): void {
  while (Atomics.compareExchange(a, LOCK, 0, 1) !== 0) {
    // another thread is inside write(2): microseconds
  }
}

function unlock(a: Int32Array): void {
  Atomics.store(a, LOCK, 0);
}

/** The main thread's side, owned by the serial port (and read by its driver). */
export class SharedWire {
  readonly buffer = new SharedArrayBuffer((RING_AT + RING) * 4);
  private readonly a = new Int32Array(this.buffer);

  constructor() {
    Atomics.store(this.a, FD, -1);
  }

  /** The fd now open (or -1): changed under the lock, so a reflex never writes to a closed or reused fd. */
  setFd(fd: number): void {
    lock(this.a);
    Atomics.store(this.a, FD, fd);
    unlock(this.a);
  }

  /** Runs one main-thread write under the lock; `count`: it is a new command (not the rest of an earlier one). */
  write<T>(write: () => T, count = true): T {
    lock(this.a);
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

  /** Out-of-band writes so far. */
  oobWrites(): number {
    return Atomics.load(this.a, OOB);
  }

  /** For the n-th out-of-band write (0-based): how many main-thread writes went before it. */
  oobAfter(n: number): number {
    return Atomics.load(this.a, RING_AT + (n % RING));
  }
}

/** The other thread's side: writes `bytes` out of band with `write` (e.g. libc write(2)), under the lock, if a port
 * is open; records where it went. Returns false when nothing was written (port closed, write failed). */
export function writeOutOfBand(buffer: SharedArrayBuffer, bytes: Uint8Array, write: (fd: number, bytes: Uint8Array) => boolean): boolean {
  const a = new Int32Array(buffer);
  lock(a);
  try {
    const fd = Atomics.load(a, FD);
    if (fd < 0 || !write(fd, bytes)) return false;
    const n = Atomics.load(a, OOB);
    Atomics.store(a, RING_AT + (n % RING), Atomics.load(a, MAIN));
    Atomics.store(a, OOB, n + 1);
    return true;
  } finally {
    unlock(a);
  }
}
