// The Moonlite framing and encodings: positions and temperatures round-trip, and the reply parser finds the same
// replies however the byte stream is chunked, whatever noise it carries.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  CommandParser,
  decodeHalfStep,
  decodeMoving,
  decodePosition,
  decodeTemperature,
  encodePosition,
  encodeTemperature,
  frame,
  ReplyParser,
  replyShape,
  stepsPerSecond,
} from "../../../hal/moonlite/codec";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

/** Cuts `data` at the given fractions into consecutive chunks. */
function chunk(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * data.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, data.length]) {
    out.push(data.subarray(from, c));
    from = c;
  }
  return out;
}

function drain(parser: ReplyParser): string[] {
  const out: string[] = [];
  for (let r = parser.next(); r !== null; r = parser.next()) out.push(r);
  return out;
}

describe("encodings", () => {
  test("a command frame is : command #", () => {
    expect(text(frame("GP"))).toBe(":GP#");
    expect(text(frame(`SN${encodePosition(500)}`))).toBe(":SN01F4#");
  });

  test("positions round-trip over the whole 16-bit range as 4 upper-case hex digits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (step) => {
        const hex = encodePosition(step);
        expect(hex).toMatch(/^[0-9A-F]{4}$/);
        expect(decodePosition(hex)).toBe(step);
        expect(decodePosition(hex.toLowerCase())).toBe(step);
      }),
    );
  });

  test("positions outside the counter, fractional steps and non-hex text are refused", () => {
    for (const bad of [-1, 0x10000, 1.5, Number.NaN]) expect(() => encodePosition(bad)).toThrow(RangeError);
    for (const bad of ["", "12345", "00G0", "-001", " 12"]) expect(() => decodePosition(bad)).toThrow(SyntaxError);
    expect(decodePosition("1F4")).toBe(500); // firmware that drops leading zeros
  });

  test("temperatures are int16 two's complement half degrees", () => {
    expect(decodeTemperature("0000")).toBe(0);
    expect(decodeTemperature("0029")).toBe(20.5);
    expect(decodeTemperature("FFFF")).toBe(-0.5);
    expect(decodeTemperature("FFEC")).toBe(-10);
    expect(decodeTemperature("8000")).toBe(-16384);
    expect(decodeTemperature("7FFF")).toBe(16383.5);
    fc.assert(
      fc.property(fc.integer({ min: -0x8000, max: 0x7fff }), (halves) => {
        expect(decodeTemperature(encodeTemperature(halves / 2))).toBe(halves / 2);
      }),
    );
    expect(decodeTemperature(encodeTemperature(12.3))).toBe(12.5);
  });

  test("GI accepts 01/00 and the one-digit 1/0; GH knows FF and 00", () => {
    expect([decodeMoving("01"), decodeMoving("1"), decodeMoving("00"), decodeMoving("0")]).toEqual([true, true, false, false]);
    expect(() => decodeMoving("02")).toThrow(SyntaxError);
    expect(() => decodeMoving("")).toThrow(SyntaxError);
    expect([decodeHalfStep("FF"), decodeHalfStep("ff"), decodeHalfStep("00")]).toEqual([true, true, false]);
    expect(() => decodeHalfStep("01")).toThrow(SyntaxError);
  });

  test("step delays map to the documented rates", () => {
    expect([0x02, 0x04, 0x08, 0x10, 0x20].map((d) => Math.round(stepsPerSecond(d)))).toEqual([250, 125, 63, 31, 16]);
  });

  test("only the get commands have replies, and GI's shape admits both widths", () => {
    for (const c of ["SN01F4", "SP0000", "FG", "FQ", "SF", "SH", "SD02", "+", "-", "C"]) expect(replyShape(c)).toBeNull();
    for (const c of ["GP", "GN", "GT", "GD", "GH", "GV", "GI"]) expect(replyShape(c)).not.toBeNull();
    const gi = replyShape("GI")!.pattern;
    expect(["01", "00", "1", "0"].every((r) => gi.test(r))).toBe(true);
    expect(gi.test("0001")).toBe(false);
    expect(replyShape("GV")!.length).toBe(2);
  });
});

describe("ReplyParser", () => {
  const reply = fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map(encodePosition),
    fc.constantFrom("01", "00", "1", "0", "FF", "02"),
  );

  test("finds the same replies however the stream is chunked", () => {
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 20 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true })), (replies, cuts) => {
        const parser = new ReplyParser();
        const got: string[] = [];
        for (const c of chunk(bytes(replies.map((r) => `${r}#`).join("")), cuts)) {
          parser.push(c);
          got.push(...drain(parser));
        }
        expect(got).toEqual(replies);
      }),
    );
  });

  test("drops control bytes and 8-bit noise, skips stray terminators, and holds an incomplete reply", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(reply, fc.uint8Array({ maxLength: 4 }).map((n) => n.map((b) => (b <= 0x20 || b >= 0x7f ? b : 0x00))))),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true })),
        (items, cuts) => {
          const parts: number[] = [];
          for (const [r, noise] of items) parts.push(...noise, ...bytes(`#${r}#`), ...noise);
          const parser = new ReplyParser();
          const got: string[] = [];
          for (const c of chunk(Uint8Array.from(parts), cuts)) {
            parser.push(c);
            got.push(...drain(parser));
          }
          expect(got).toEqual(items.map(([r]) => r));
        },
      ),
    );
    const parser = new ReplyParser();
    parser.push(bytes("01F"));
    expect(parser.next()).toBeNull();
    parser.push(bytes("4#"));
    expect(parser.next()).toBe("01F4");
  });

  test("a run of text with no terminator is cut to the longest reply, keeping the newest bytes", () => {
    const parser = new ReplyParser();
    parser.push(bytes("Z".repeat(1000)));
    parser.push(bytes("1234#"));
    const r = parser.next()!;
    expect(r.endsWith("1234")).toBe(true);
    expect(r.length).toBeLessThanOrEqual(16);
  });

  test("a fixed-length reply is read with or without its terminator", () => {
    const parser = new ReplyParser();
    parser.push(bytes("1"));
    expect(parser.nextFixed(2)).toBeNull();
    parser.push(bytes("0"));
    expect(parser.nextFixed(2)).toBe("10");
    parser.push(bytes("#01F4#")); // the late terminator, then the next reply
    expect(parser.next()).toBe("01F4");
    parser.push(bytes("#22#"));
    expect(parser.nextFixed(2)).toBe("22");
    parser.push(bytes("5#"));
    expect(parser.nextFixed(2)).toBe("5"); // shorter than expected: handed over for the caller to reject
  });
});

describe("CommandParser", () => {
  test("splits commands however chunked, ignoring bytes outside frames and restarting on ':'", () => {
    const commands = fc.constantFrom("GP", "GI", "SN01F4", "FG", "FQ", "C", "+", "SD08", "XX");
    fc.assert(
      fc.property(fc.array(commands, { maxLength: 20 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true })), (list, cuts) => {
        const stream = bytes(list.map((c) => `junk:G${"\n"}:${c}#`).join(""));
        const parser = new CommandParser();
        const got: string[] = [];
        for (const c of chunk(stream, cuts)) got.push(...parser.push(c));
        expect(got).toEqual(list);
      }),
    );
  });
});
