// The Synta wire format: 24-bit little-endian hex, command frames, the status word, and a reply parser that copes
// with any chunking, echoed commands and line noise.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  asciiBytes,
  decodeFirmware,
  decodeHighSpeedRatio,
  decodePosition,
  decodeStatus,
  decodeU24,
  encodeCommand,
  encodePosition,
  encodeStatus,
  encodeU24,
  errorName,
  ReplyParser,
  type MotorStatus,
  type ReplyEvent,
} from "../../../hal/synta/codec";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("24-bit values", () => {
  test("bytes least significant first, nibbles most significant first", () => {
    expect(encodeU24(0x123456)).toBe("563412");
    expect(decodeU24("563412")).toBe(0x123456);
    expect(encodeU24(620)).toBe("6C0200");
    expect(encodeU24(9_024_000)).toBe("00B289");
    expect(decodeU24("00b289")).toBe(9_024_000);
  });

  test("round trip for every 24-bit value", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffff }), (n) => decodeU24(encodeU24(n)) === n));
  });

  test("rejects what is not 24 bits", () => {
    expect(() => encodeU24(0x1000000)).toThrow();
    expect(() => encodeU24(-1)).toThrow();
    expect(() => encodeU24(1.5)).toThrow();
    expect(() => decodeU24("12345")).toThrow();
    expect(() => decodeU24("12345G")).toThrow();
  });

  test("positions are offset by 0x800000", () => {
    expect(encodePosition(0)).toBe("000080");
    expect(decodePosition("000080")).toBe(0);
    expect(decodePosition(encodeU24(0x800000 - 5))).toBe(-5);
    fc.assert(fc.property(fc.integer({ min: -0x800000, max: 0x7fffff }), (n) => decodePosition(encodePosition(n)) === n));
  });
});

describe("frames and replies", () => {
  test("a command frame is ':' cmd axis data CR", () => {
    expect(text(encodeCommand("j", "1"))).toBe(":j1\r");
    expect(text(encodeCommand("I", "2", "6C0200"))).toBe(":I26C0200\r");
  });

  test("status: three digits in nibble order [4-7][0-3][8-11]", () => {
    const still: MotorStatus = { running: false, blocked: false, slewMode: true, backward: false, highSpeed: false, initialized: true };
    expect(encodeStatus(still)).toBe("101");
    expect(decodeStatus("101")).toEqual(still);
    // Running a fast goto backward: modes 0b0110, motion 0b0001.
    expect(decodeStatus("611")).toEqual({ running: true, blocked: false, slewMode: false, backward: true, highSpeed: true, initialized: true });
    // 'B' has bit 0 set even though its ASCII code is even: decoded as a digit, not a character.
    expect(decodeStatus("B00").slewMode).toBe(true);
    const statuses = fc.record({
      running: fc.boolean(),
      blocked: fc.boolean(),
      slewMode: fc.boolean(),
      backward: fc.boolean(),
      highSpeed: fc.boolean(),
      initialized: fc.boolean(),
    });
    fc.assert(fc.property(statuses, (s) => expect(decodeStatus(encodeStatus(s))).toEqual(s)));
  });

  test("firmware, high-speed ratio and error names", () => {
    expect(decodeFirmware("020301")).toEqual({ major: 2, minor: 3, mountCode: 1, mount: "HEQ5" });
    expect(decodeHighSpeedRatio("10")).toBe(16);
    expect(decodeHighSpeedRatio("100000")).toBe(16);
    expect(errorName("2")).toBe("motor not stopped");
    expect(errorName("4")).toBe("not initialized");
  });
});

describe("reply parser", () => {
  const feedAll = (p: ReplyParser, chunks: string[]) => chunks.flatMap((c) => p.feed(asciiBytes(c)));

  test("split and merged frames", () => {
    const p = new ReplyParser();
    expect(feedAll(p, ["=56", "3412\r=", "\r!2\r", "=1"])).toEqual([
      { kind: "reply", data: "563412" },
      { kind: "reply", data: "" },
      { kind: "error", code: "2" },
    ]);
    expect(p.feed(asciiBytes("01\r"))).toEqual([{ kind: "reply", data: "101" }]);
  });

  test("echoed commands are dropped; noise is reported up to the next frame", () => {
    const p = new ReplyParser();
    expect(feedAll(p, [":j1\r=000080\r", "\x00\xffzz", "=101\r"])).toEqual([
      { kind: "reply", data: "000080" },
      { kind: "garbage", text: "\x00\xffzz" },
      { kind: "reply", data: "101" },
    ]);
  });

  test("a frame cut short by a new frame, or with non-hex data, is garbage", () => {
    const p = new ReplyParser();
    expect(feedAll(p, ["=56=101\r", "=1Z3\r", "!\r"])).toEqual([
      { kind: "garbage", text: "=56" },
      { kind: "reply", data: "101" },
      { kind: "garbage", text: "=1Z3" },
      { kind: "error", code: "" },
    ]);
  });

  // Garbage never contains a frame start; CR/LF in it only split it into several reports.
  const hex = fc.constantFrom(..."0123456789ABCDEF");
  const frame = fc.oneof(
    fc.constantFrom(0, 2, 3, 6).chain((n) => fc.string({ unit: hex, minLength: n, maxLength: n }).map((d) => ({ kind: "reply" as const, data: d }))),
    fc.constantFrom(..."012345678").map((c) => ({ kind: "error" as const, code: c })),
  );
  const noiseChar = fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0x3d && b !== 0x21 && b !== 0x3a).map((b) => String.fromCharCode(b));
  const noise = fc.string({ unit: noiseChar, maxLength: 8 });
  const echo = fc.constantFrom("", ":j1\r", ":I26C0200\r");

  test("any chunking, with echoes and noise between frames, yields the frames in order and reports the noise", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, echo, frame), { maxLength: 12 }), noise, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }), (items, tail, cuts) => {
        const wire = items.map(([n, e, f]) => n + e + (f.kind === "reply" ? `=${f.data}\r` : `!${f.code}\r`)).join("") + tail;
        const bytes = asciiBytes(wire);
        const p = new ReplyParser();
        const events: ReplyEvent[] = [];
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const n = cuts[k % cuts.length]!;
          events.push(...p.feed(bytes.subarray(i, i + n)));
          i += n;
        }
        events.push(...p.flush());
        expect(events.filter((e) => e.kind !== "garbage")).toEqual(items.map(([, , f]) => f));
        const reported = events.flatMap((e) => (e.kind === "garbage" ? [e.text] : [])).join("");
        const injected = (items.map(([n]) => n).join("") + tail).replace(/[\r\n]/g, "");
        expect(reported).toBe(injected);
      }),
    );
  });
});
