// The few libc calls the GPIO character device needs, through bun:ffi (onoff and other addons crash Bun:
// DESIGN.md §5). Each thread that imports this gets its own handle; errno is per thread, read right after the call.
import { dlopen, read } from "bun:ffi";
import { errnoName, GpioError } from "./uapi";

const { symbols } = dlopen("libc.so.6", {
  open: { args: ["cstring", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  // Variadic in C (`int ioctl(int, unsigned long, ...)`); one pointer argument passes the same way on x86-64 and
  // arm64, the only targets Bun builds for.
  ioctl: { args: ["i32", "u64", "buffer"], returns: "i32" },
  read: { args: ["i32", "buffer", "buffer_length"], returns: "i64" },
  write: { args: ["i32", "buffer", "buffer_length"], returns: "i64" },
  poll: { args: ["buffer", "u64", "i32"], returns: "i32" },
  pipe2: { args: ["buffer", "i32"], returns: "i32" },
  dup3: { args: ["i32", "i32", "i32"], returns: "i32" },
  gettid: { args: [], returns: "i32" },
  sched_setscheduler: { args: ["i32", "i32", "buffer"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
  strerror: { args: ["i32"], returns: "cstring" },
});

// asm-generic/fcntl.h and poll.h: the same values on x86-64 and arm64.
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const EINTR = 4;
export const EAGAIN = 11;

export function errno(): number {
  const p = symbols.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

export function strerror(n: number): string {
  return symbols.strerror(n) ?? `errno ${n}`;
}

/** The error for a call that returned -1, e.g. "GPIO_V2_GET_LINE_IOCTL on /dev/gpiochip0 failed: Device or
 * resource busy (EBUSY)". Call it straight after the failing call, before anything else can touch errno. */
export function lastError(what: string): GpioError {
  const n = errno();
  return new GpioError(lastErrorMessage(what, n), n);
}

export function lastErrorMessage(what: string, n: number): string {
  return `${what} failed: ${strerror(n)} (${errnoName(n)})`;
}

export function open(path: string, flags: number): number {
  const fd = symbols.open(path, flags);
  if (fd < 0) throw lastError(`open ${path}`);
  return fd;
}

/** close(2); never retried on EINTR (on Linux the fd is gone either way). */
export function close(fd: number): void {
  symbols.close(fd);
}

/** An ioctl whose argument is `arg`, in and out; throws naming the ioctl on failure. */
export function ioctl(fd: number, request: number, arg: Uint8Array, what: string): number {
  for (;;) {
    const r = symbols.ioctl(fd, request, arg);
    if (r >= 0) return r;
    if (errno() !== EINTR) throw lastError(what);
  }
}

/** read(2): bytes read, 0 at end of file, -1 with errno set. */
export function readInto(fd: number, buf: Uint8Array): number {
  return Number(symbols.read(fd, buf, buf));
}

/** write(2) of all of `bytes` (a pipe write up to PIPE_BUF is atomic). */
export function writeAll(fd: number, bytes: Uint8Array, what = "write"): void {
  let done = 0;
  while (done < bytes.length) {
    const chunk = bytes.subarray(done);
    const n = Number(symbols.write(fd, chunk, chunk));
    if (n < 0) {
      if (errno() === EINTR) continue;
      throw lastError(what);
    }
    done += n;
  }
}

/** poll(2) over `fds` (struct pollfd[]: i32 fd, i16 events, i16 revents), built by `pollFds`. */
export function poll(fds: Int32Array, timeoutMs: number): number {
  return symbols.poll(fds, fds.length / 2, timeoutMs);
}

/** struct pollfd[] asking for POLLIN on each fd; read revents back with `revents`. */
export function pollFds(fds: number[]): Int32Array {
  const a = new Int32Array(fds.length * 2);
  const events = new Int16Array(a.buffer);
  fds.forEach((fd, i) => {
    a[2 * i] = fd;
    events[4 * i + 2] = POLLIN;
  });
  return a;
}

export function revents(fds: Int32Array, i: number): number {
  return new Int16Array(fds.buffer, fds.byteOffset, fds.length * 2)[4 * i + 3] ?? 0;
}

export const SCHED_FIFO = 1;

/** Puts the calling thread under a real-time policy (SCHED_FIFO at `priority`), so that it runs as soon as it wakes
 * instead of waiting for a time slice. Needs root or CAP_SYS_NICE; returns the errno name when refused, else null. */
export function realtimeThread(priority: number): string | null {
  const param = new Int32Array([priority]);
  if (symbols.sched_setscheduler(symbols.gettid(), SCHED_FIFO, param) === 0) return null;
  return errnoName(errno());
}

/** dup3(2) with O_CLOEXEC: makes `newFd` refer to what `oldFd` does, atomically (the simulator swaps a reader's fd
 * under it). */
export function dup(oldFd: number, newFd: number): void {
  for (;;) {
    if (symbols.dup3(oldFd, newFd, O_CLOEXEC) >= 0) return;
    if (errno() !== EINTR) throw lastError(`dup3(${oldFd}, ${newFd})`);
  }
}

/** A close-on-exec pipe: [read end, write end]. */
export function pipe(flags = 0): [number, number] {
  const fds = new Int32Array(2);
  if (symbols.pipe2(fds, O_CLOEXEC | flags) < 0) throw lastError("pipe2");
  return [fds[0]!, fds[1]!];
}
