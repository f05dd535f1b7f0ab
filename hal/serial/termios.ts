import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";

// Linux values (asm-generic: identical on x64, arm and arm64).
const TCIFLUSH = 0;
const TIOCINQ = 0x541b;
const CSIZE = 0o60;
const CSTOPB = 0o100;
const PARENB = 0o400;
const PARODD = 0o1000;
/** glibc's struct termios: four tcflag_t, c_line, c_cc[32], padding, c_ispeed, c_ospeed. */
const TERMIOS_SIZE = 60;
const C_CFLAG_INDEX = 2;

// Opened on first use, so importing this module costs nothing where no serial port is configured.
let libc: ReturnType<typeof openLibc> | null = null;

function openLibc() {
  return dlopen("libc.so.6", {
    tcflush: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    tcgetattr: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

function c() {
  libc ??= openLibc();
  return libc;
}

function fail(call: string, fd: number): never {
  const errno = read.i32(c().__errno_location() as Pointer, 0);
  throw new Error(`${call}(${fd}) failed: errno ${errno}`);
}

/** Drops the bytes the kernel has received on this tty but nobody has read yet. Synchronous: once it returns,
 * a later read can only see bytes that arrived after the call. */
export function flushInput(fd: number): void {
  if (c().tcflush(fd, TCIFLUSH) !== 0) fail("tcflush", fd);
}

/** Bytes waiting in the tty's input queue (TIOCINQ). */
export function inputQueueLength(fd: number): number {
  const count = new Int32Array(1);
  if (c().ioctl(fd, TIOCINQ, ptr(count)) !== 0) fail("ioctl TIOCINQ", fd);
  return count[0]!;
}

export interface LineSettings {
  dataBits: 5 | 6 | 7 | 8;
  parity: "none" | "even" | "odd";
  stopBits: 1 | 2;
}

/** The character framing the tty is set to, read back from the kernel (tcgetattr). */
export function lineSettings(fd: number): LineSettings {
  const termios = new Uint8Array(TERMIOS_SIZE);
  if (c().tcgetattr(fd, ptr(termios)) !== 0) fail("tcgetattr", fd);
  const cflag = new Uint32Array(termios.buffer)[C_CFLAG_INDEX]!;
  return {
    dataBits: (5 + ((cflag & CSIZE) >> 4)) as LineSettings["dataBits"],
    parity: cflag & PARENB ? (cflag & PARODD ? "odd" : "even") : "none",
    stopBits: cflag & CSTOPB ? 2 : 1,
  };
}
