// The Moonlite focuser protocol's framing and value encodings (HARDWARE.md §2, INDI drivers/focuser/moonlite.cpp):
// commands are `:` + command + hex data + `#`, replies are hex text ended by `#`. No device logic lives here.

const ascii = new TextEncoder();

/** The bytes of one command frame, e.g. `frame("SN01F4")` → `:SN01F4#`. */
export function frame(command: string): Uint8Array {
  return ascii.encode(`:${command}#`);
}

/** A 16-bit step count as the 4 upper-case hex digits `SN`/`SP` take and `GP`/`GN` return. */
export function encodePosition(step: number): string {
  if (!Number.isInteger(step) || step < 0 || step > 0xffff) throw new RangeError(`step ${step} is outside 0..65535`);
  return step.toString(16).toUpperCase().padStart(4, "0");
}

/** Reads hex digits as an unsigned number; firmware differ in digit count, so 1 to 4 are accepted (INDI scans %X). */
export function decodeHex(text: string, maxDigits = 4): number {
  if (!new RegExp(`^[0-9A-Fa-f]{1,${maxDigits}}$`).test(text)) throw new SyntaxError(`"${text}" is not a hex number`);
  return Number.parseInt(text, 16);
}

export const decodePosition = (reply: string): number => decodeHex(reply);

/** `GT`: a 16-bit two's complement count of half degrees Celsius. */
export function decodeTemperature(reply: string): number {
  const raw = decodeHex(reply);
  return (raw >= 0x8000 ? raw - 0x10000 : raw) / 2;
}

/** What a device reports for `temperatureC`: rounded to the nearest half degree, clamped to int16. */
export function encodeTemperature(temperatureC: number): string {
  const halves = Math.max(-0x8000, Math.min(0x7fff, Math.round(temperatureC * 2)));
  return encodePosition(halves & 0xffff);
}

/** `GI`: `01#` moving, `00#` stopped; some firmware send one digit (INDI accepts `1#`/`0#`). */
export function decodeMoving(reply: string): boolean {
  if (/^0?1$/.test(reply)) return true;
  if (/^0?0$/.test(reply)) return false;
  throw new SyntaxError(`"${reply}" is not a moving flag`);
}

/** `GH`: `FF` half step, `00` full step. */
export function decodeHalfStep(reply: string): boolean {
  const r = reply.toUpperCase();
  if (r === "FF") return true;
  if (r === "00") return false;
  throw new SyntaxError(`"${reply}" is not a step mode`);
}

/** The step delays `SD`/`GD` know, and the rates the Moonlite documentation gives for them (steps/s). The rate is
 * inversely proportional to the delay: 500 / delay. */
export const STEP_DELAYS = [0x02, 0x04, 0x08, 0x10, 0x20] as const;
export const stepsPerSecond = (delay: number): number => 500 / delay;

/** How the reply to a command looks, so a reply of the wrong shape (line noise, a stale reply) is recognised.
 * `length` marks a reply read by character count: `GV` has no terminator on some firmware (INDI reads 2 chars). */
export interface ReplyShape {
  pattern: RegExp;
  length?: number;
}

const hex4: ReplyShape = { pattern: /^[0-9A-Fa-f]{1,4}$/ };
const REPLIES: Record<string, ReplyShape> = {
  GP: hex4,
  GN: hex4,
  GT: hex4,
  GI: { pattern: /^0?[01]$/ },
  GD: { pattern: /^[0-9A-Fa-f]{1,2}$/ },
  GH: { pattern: /^(FF|00)$/i },
  GV: { pattern: /^[0-9A-Za-z.]{2}$/, length: 2 },
  GC: { pattern: /^[0-9A-Fa-f]{1,2}$/ },
};

/** The shape of the reply to `command`, or null for a command the device does not answer. */
export function replyShape(command: string): ReplyShape | null {
  return command.startsWith("G") ? (REPLIES[command.slice(0, 2)] ?? null) : null;
}

/** Longest text a reply can carry; a longer run without `#` is noise and is cut from the front. */
const MAX_REPLY = 16;

/** Splits the device's byte stream into replies, wherever the chunk boundaries fall. Bytes that cannot be part of
 * a reply (controls, 8-bit noise from a line being plugged in) are dropped; empty replies (a stray `#`) are skipped;
 * a run longer than any reply keeps only its newest characters, so noise before a reply cannot swallow it. */
export class ReplyParser {
  private buf = "";

  push(bytes: Uint8Array): void {
    let run = this.buf.length - this.buf.lastIndexOf("#") - 1;
    let text = this.buf;
    for (const b of bytes) {
      if (b <= 0x20 || b >= 0x7f) continue;
      if (b === 0x23) run = 0;
      else if (++run > MAX_REPLY) {
        // Drop the oldest character of the unterminated run.
        const at = text.length - MAX_REPLY;
        text = text.slice(0, at) + text.slice(at + 1);
        run--;
      }
      text += String.fromCharCode(b);
    }
    this.buf = text;
  }

  /** The next `#`-terminated reply (without the `#`), or null until one is complete. */
  next(): string | null {
    for (;;) {
      const end = this.buf.indexOf("#");
      if (end < 0) return null;
      const reply = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 1);
      if (reply.length > 0) return reply;
    }
  }

  /** The next `length` characters, terminated or not (a `#` left before them by an earlier reply is skipped). */
  nextFixed(length: number): string | null {
    this.buf = this.buf.replace(/^#+/, "");
    const end = this.buf.indexOf("#");
    if (end >= 0 && end < length) return this.next();
    if (this.buf.length < length) return null;
    const reply = this.buf.slice(0, length);
    this.buf = this.buf.slice(length);
    return reply;
  }

  clear(): void {
    this.buf = "";
  }
}

/** The device side: splits the host's byte stream into commands (the text between `:` and `#`). Text outside a
 * frame is ignored and a `:` restarts the frame, as the firmware's parser does. */
export class CommandParser {
  private buf: string | null = null;

  push(bytes: Uint8Array): string[] {
    const out: string[] = [];
    for (const b of bytes) {
      const c = String.fromCharCode(b);
      if (c === ":") this.buf = "";
      else if (this.buf === null) continue;
      else if (c === "#") {
        out.push(this.buf);
        this.buf = null;
      } else if (this.buf.length < MAX_REPLY) this.buf += c;
      else this.buf = null;
    }
    return out;
  }
}
