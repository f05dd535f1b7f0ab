// The Sky-Watcher/Synta motor-controller wire format (HARDWARE.md §1): framing, 24-bit values, the status word and
// the error codes. Pure functions and one streaming parser; no I/O.

/** Step 0 on the wire: positions (`j`, `E`) are sent offset by this so that they stay unsigned. */
export const POSITION_OFFSET = 0x800000;
export const U24_MAX = 0xffffff;

const HEX = "0123456789ABCDEF";
const hexByte = (n: number) => HEX[(n >> 4) & 0xf]! + HEX[n & 0xf]!;
const HEX_RE = /^[0-9A-Fa-f]*$/;

export function isHex(s: string): boolean {
  return HEX_RE.test(s);
}

/** 0x123456 → "563412": three bytes, least significant first, each byte's nibbles most significant first. */
export function encodeU24(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > U24_MAX) throw new RangeError(`${n} is not a 24-bit unsigned integer`);
  return hexByte(n) + hexByte(n >> 8) + hexByte(n >> 16);
}

export function decodeU24(s: string): number {
  if (s.length !== 6 || !isHex(s)) throw new SyntaxError(`"${s}" is not a 24-bit value (6 hex digits)`);
  const byte = (i: number) => parseInt(s.slice(i, i + 2), 16);
  return byte(0) | (byte(2) << 8) | (byte(4) << 16);
}

/** A signed step count as the board stores it (wrapping like the board's 24-bit counter). */
export function encodePosition(steps: number): string {
  return encodeU24((((steps + POSITION_OFFSET) % 0x1000000) + 0x1000000) % 0x1000000);
}

export function decodePosition(s: string): number {
  return decodeU24(s) - POSITION_OFFSET;
}

export type AxisChannel = "1" | "2" | "3";

/** `:` cmd axis data `\r`, as bytes. */
export function encodeCommand(cmd: string, axis: string, data = ""): Uint8Array {
  return asciiBytes(`:${cmd}${axis}${data}\r`);
}

/** A command as it is written in logs and error messages: `:j1`, `:I1C10200`. */
export function describeCommand(cmd: string, axis: string, data = ""): string {
  return `:${cmd}${axis}${data}`;
}

export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Length of a good reply's data for each command we know; a reply of another length belongs to some other command
 * (a late answer after a timeout) and is dropped. `g` comes as one byte from the boards (2 digits) but as a full
 * 24-bit value from INDI's simulator; both parse the same way (first byte). */
const REPLY_LENGTHS: Record<string, readonly number[]> = {
  a: [6], b: [6], D: [6], e: [6], j: [6], q: [6], f: [3], g: [2, 6],
  E: [0], F: [0], G: [0], H: [0], I: [0], J: [0], K: [0], L: [0], M: [0], P: [0], S: [0], U: [0],
};

export function expectedReplyLengths(cmd: string): readonly number[] | null {
  return REPLY_LENGTHS[cmd] ?? null;
}

/** Data length each command takes (what the board checks before answering `!1`). */
const DATA_LENGTHS: Record<string, number> = {
  a: 0, b: 0, D: 0, e: 0, f: 0, g: 0, j: 0, F: 0, J: 0, K: 0, L: 0,
  E: 6, H: 6, I: 6, M: 6, S: 6, U: 6, q: 6, G: 2, P: 1,
};

export function commandDataLength(cmd: string): number | null {
  return DATA_LENGTHS[cmd] ?? null;
}

// ---- status word (`f`) ----

/** Status bits as the boards (and INDI's simulator) hold them; sent as three hex digits in nibble order
 * [bits 4-7][bits 0-3][bits 8-11]. */
export const STATUS_BITS = {
  running: 0x001,
  blocked: 0x002,
  slewMode: 0x010,
  backward: 0x020,
  highSpeed: 0x040,
  initialized: 0x100,
} as const;

export interface MotorStatus {
  running: boolean;
  blocked: boolean;
  /** true: slew (constant rate, "tracking") mode; false: goto mode. */
  slewMode: boolean;
  backward: boolean;
  highSpeed: boolean;
  initialized: boolean;
}

export function encodeStatus(s: MotorStatus): string {
  let n = 0;
  for (const [k, bit] of Object.entries(STATUS_BITS)) if (s[k as keyof MotorStatus]) n |= bit;
  return HEX[(n >> 4) & 0xf]! + HEX[n & 0xf]! + HEX[(n >> 8) & 0xf]!;
}

/** Decodes each hex digit as a number (INDI tests the ASCII code's low bit, which only works for 0-9 by luck). */
export function decodeStatus(s: string): MotorStatus {
  if (s.length !== 3 || !isHex(s)) throw new SyntaxError(`"${s}" is not a motor status (3 hex digits)`);
  const [modes, motion, init] = [0, 1, 2].map((i) => parseInt(s[i]!, 16)) as [number, number, number];
  return {
    slewMode: (modes & 1) !== 0,
    backward: (modes & 2) !== 0,
    highSpeed: (modes & 4) !== 0,
    running: (motion & 1) !== 0,
    blocked: (motion & 2) !== 0,
    initialized: (init & 1) !== 0,
  };
}

// ---- other replies ----

const MOUNT_NAMES: Record<number, string> = {
  0x00: "EQ6", 0x01: "HEQ5", 0x02: "EQ5", 0x03: "EQ3", 0x04: "EQ8", 0x05: "AZEQ6", 0x06: "AZEQ5",
  0x80: "GT", 0x81: "MF", 0x82: "114GT", 0x90: "DOB",
};

export interface Firmware {
  major: number;
  minor: number;
  mountCode: number;
  mount: string;
}

/** `e`: the six digits read as major, minor, mount code ("020301" = 2.03 on an HEQ5). */
export function decodeFirmware(s: string): Firmware {
  if (s.length !== 6 || !isHex(s)) throw new SyntaxError(`"${s}" is not a firmware version (6 hex digits)`);
  const [major, minor, mountCode] = [0, 2, 4].map((i) => parseInt(s.slice(i, i + 2), 16)) as [number, number, number];
  return { major, minor, mountCode, mount: MOUNT_NAMES[mountCode] ?? `unknown mount 0x${hexByte(mountCode)}` };
}

/** `g`: the high-speed ratio is the first byte (both the 2-digit and the 6-digit forms). */
export function decodeHighSpeedRatio(s: string): number {
  if (s.length < 2 || !isHex(s)) throw new SyntaxError(`"${s}" is not a high-speed ratio`);
  return parseInt(s.slice(0, 2), 16);
}

/** Error replies (`!code`), named as Hamlib names them. */
export const ERROR_NAMES: Record<string, string> = {
  "0": "unknown command",
  "1": "command length error",
  "2": "motor not stopped",
  "3": "invalid character",
  "4": "not initialized",
  "5": "driver sleeping",
  "6": "unknown error",
  "7": "PEC training is running",
  "8": "no valid PEC data",
};

export function errorName(code: string): string {
  if (code === "") return "command refused (no code)";
  return ERROR_NAMES[code] ?? `unknown error code ${code}`;
}

// ---- reply stream ----

export type ReplyEvent =
  | { kind: "reply"; data: string }
  | { kind: "error"; code: string }
  /** Bytes that formed no reply (line noise, a frame cut short); reported so the client can log them. */
  | { kind: "garbage"; text: string };

const CR = 0x0d;
const LF = 0x0a;
const EQ = 0x3d; // '='
const BANG = 0x21; // '!'
const COLON = 0x3a; // ':'
/** Longest well-formed body of each frame kind; anything longer is noise. */
const MAX_BODY = { reply: 6, error: 2, echo: 16 } as const;

/** Splits the byte stream from a motor controller into replies, whatever the chunking: `=data\r` and `!code\r`.
 * A command echoed by the adapter (`:...\r`) is dropped; anything else up to the next frame start is garbage. */
export class ReplyParser {
  private mode: "between" | "reply" | "error" | "echo" = "between";
  private body = "";
  private junk = "";

  feed(chunk: Uint8Array): ReplyEvent[] {
    const out: ReplyEvent[] = [];
    for (const b of chunk) this.byte(b, out);
    return out;
  }

  /** Reports bytes held back while waiting for the end of a frame or of a run of garbage, and starts afresh. */
  flush(): ReplyEvent[] {
    const out: ReplyEvent[] = [];
    if (this.mode !== "between") this.breakFrame();
    this.flushJunk(out);
    return out;
  }

  /** Forgets partial input (after the link discarded what it had buffered). */
  reset(): void {
    this.mode = "between";
    this.body = "";
    this.junk = "";
  }

  private byte(b: number, out: ReplyEvent[]): void {
    if (b === EQ || b === BANG || b === COLON) {
      if (this.mode !== "between") this.breakFrame();
      this.flushJunk(out);
      this.mode = b === EQ ? "reply" : b === BANG ? "error" : "echo";
      this.body = "";
      return;
    }
    if (b === CR) {
      if (this.mode === "between") return this.flushJunk(out);
      this.endFrame(out);
      return;
    }
    if (this.mode === "between") {
      if (b !== LF) this.junk += String.fromCharCode(b);
      return;
    }
    if (b === LF) {
      this.breakFrame();
      return;
    }
    this.body += String.fromCharCode(b);
    if (this.body.length > MAX_BODY[this.mode]) this.breakFrame();
  }

  private endFrame(out: ReplyEvent[]): void {
    const { mode, body } = this;
    this.mode = "between";
    this.body = "";
    if (mode === "reply" && isHex(body)) out.push({ kind: "reply", data: body.toUpperCase() });
    else if (mode === "error" && isHex(body)) out.push({ kind: "error", code: body });
    else if (mode !== "echo") out.push({ kind: "garbage", text: (mode === "reply" ? "=" : "!") + body });
  }

  /** The open frame turned out to be noise: its bytes join the garbage run. */
  private breakFrame(): void {
    const lead = this.mode === "reply" ? "=" : this.mode === "error" ? "!" : ":";
    this.junk += lead + this.body;
    this.mode = "between";
    this.body = "";
  }

  private flushJunk(out: ReplyEvent[]): void {
    if (this.junk) out.push({ kind: "garbage", text: this.junk });
    this.junk = "";
  }
}
