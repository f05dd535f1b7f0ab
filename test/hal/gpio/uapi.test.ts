// Encoders and decoders of the uAPI v2 structs: round trips over arbitrary values, the exact bytes the kernel
// expects at the offsets gcc reports (uapi-probe.test.ts), and the line configs built from per-line settings.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { InputRequest } from "../../../hal/gpio/chip";
import {
  checkOffsets,
  decodeChipInfo,
  decodeLineEvents,
  decodeLineInfo,
  decodeLineRequest,
  decodeLineValues,
  encodeChipInfo,
  encodeLineEvents,
  encodeLineInfo,
  encodeLineInfoQuery,
  encodeLineRequest,
  encodeLineValues,
  GpioError,
  inputConfig,
  LAYOUT,
  LINE_EVENT_SIZE,
  LineFlag,
  lineRequestFd,
  maskOf,
  outputConfig,
  type LineAttr,
  type LineEvent,
  type LineRequest,
} from "../../../hal/gpio/uapi";

const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
// Names that fit char[32] with their NUL: at most 31 UTF-8 bytes.
const name = fc.string({ maxLength: 31 }).filter((s) => !s.includes("\0") && new TextEncoder().encode(s).length <= 31);
const attr: fc.Arbitrary<LineAttr> = fc.oneof(
  fc.record({ flags: u64, mask: u64 }),
  fc.record({ values: u64, mask: u64 }),
  fc.record({ debounceUs: u32, mask: u64 }),
);
const lineEvent: fc.Arbitrary<LineEvent> = fc.record({ timestampNs: u64, id: u32, offset: u32, seqno: u32, lineSeqno: u32 });

describe("round trips", () => {
  test("gpiochip_info", () => {
    fc.assert(
      fc.property(name, name, u32, (n, label, lines) => {
        const buf = encodeChipInfo({ name: n, label, lines });
        expect(buf.byteLength).toBe(LAYOUT.gpiochip_info.size);
        expect(decodeChipInfo(buf)).toEqual({ name: n, label, lines });
      }),
    );
  });

  test("gpio_v2_line_values", () => {
    fc.assert(
      fc.property(u64, u64, (bits, mask) => {
        const buf = encodeLineValues({ bits, mask });
        expect(buf.byteLength).toBe(16);
        expect(decodeLineValues(buf)).toEqual({ bits, mask });
      }),
    );
  });

  test("gpio_v2_line_request (592 bytes), with the fd the kernel writes back", () => {
    const request: fc.Arbitrary<Required<LineRequest>> = fc.record({
      offsets: fc.array(u32, { minLength: 1, maxLength: 64 }),
      consumer: name,
      flags: u64,
      attrs: fc.array(attr, { maxLength: 10 }),
      eventBufferSize: u32,
    });
    fc.assert(
      fc.property(request, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (req, fd) => {
        const buf = encodeLineRequest(req);
        expect(buf.byteLength).toBe(592);
        expect(lineRequestFd(buf)).toBe(0);
        new DataView(buf).setInt32(LAYOUT.gpio_v2_line_request.fields.fd, fd, true);
        expect(decodeLineRequest(buf)).toEqual({ ...req, fd });
        expect(lineRequestFd(buf)).toBe(fd);
      }),
    );
  });

  test("gpio_v2_line_info", () => {
    const info = fc.record({
      name,
      consumer: name,
      offset: u32,
      flags: u64,
      attrs: fc.array(
        attr.map((a) => ({ ...a, mask: 1n })),
        { maxLength: 10 },
      ),
    });
    fc.assert(fc.property(info, (i) => expect(decodeLineInfo(encodeLineInfo(i))).toEqual(i)));
    expect(decodeLineInfo(encodeLineInfoQuery(17))).toEqual({ name: "", consumer: "", offset: 17, flags: 0n, attrs: [] });
  });

  test("gpio_v2_line_event: several records per read", () => {
    fc.assert(
      fc.property(fc.array(lineEvent, { maxLength: 40 }), (events) => {
        const bytes = encodeLineEvents(events);
        expect(bytes.length).toBe(events.length * 48);
        expect(decodeLineEvents(bytes)).toEqual(events);
      }),
    );
  });
});

describe("encoding details", () => {
  test("a line request puts every field where gcc says, in native (little-endian) order", () => {
    const buf = encodeLineRequest({
      offsets: [17, 27],
      consumer: "skynode-limits",
      flags: LineFlag.INPUT | LineFlag.ACTIVE_LOW,
      attrs: [{ debounceUs: 1000, mask: 0b10n }],
      eventBufferSize: 32,
    });
    const v = new DataView(buf);
    const f = LAYOUT.gpio_v2_line_request.fields;
    const c = LAYOUT.gpio_v2_line_config.fields;
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]).toEqual([17, 27, 0]);
    expect(new TextDecoder().decode(new Uint8Array(buf, f.consumer, 15))).toBe("skynode-limits\0");
    expect(v.getBigUint64(f.config + c.flags, true)).toBe(6n);
    expect(v.getUint32(f.config + c.num_attrs, true)).toBe(1);
    const a = f.config + c.attrs;
    expect(v.getUint32(a, true)).toBe(3); // DEBOUNCE
    expect(v.getUint32(a + 8, true)).toBe(1000);
    expect(v.getBigUint64(a + 16, true)).toBe(2n);
    expect(v.getUint32(f.num_lines, true)).toBe(2);
    expect(v.getUint32(f.event_buffer_size, true)).toBe(32);
    // Padding stays zero: the kernel rejects a request with anything in it.
    expect([...new Uint8Array(buf, f.padding, 20)].every((b) => b === 0)).toBe(true);
    expect([...new Uint8Array(buf, f.config + c.padding, 20)].every((b) => b === 0)).toBe(true);
  });

  test("a consumer longer than 31 bytes is cut like the kernel cuts it, never inside a UTF-8 character", () => {
    expect(decodeLineRequest(encodeLineRequest({ offsets: [0], consumer: "x".repeat(40), flags: 0n })).consumer).toBe("x".repeat(31));
    // 30 ASCII bytes then "é" (2 bytes) would end at byte 32: the é goes.
    expect(decodeLineRequest(encodeLineRequest({ offsets: [0], consumer: `${"y".repeat(30)}é`, flags: 0n })).consumer).toBe("y".repeat(30));
  });

  test("limits: 1..64 lines, at most 10 attributes, u32 fields", () => {
    expect(() => encodeLineRequest({ offsets: [], consumer: "c", flags: 0n })).toThrow(/1\.\.64 lines/);
    expect(() => encodeLineRequest({ offsets: Array.from({ length: 65 }, (_, i) => i), consumer: "c", flags: 0n })).toThrow(/1\.\.64/);
    const attrs = Array.from({ length: 11 }, () => ({ debounceUs: 1, mask: 1n }));
    expect(() => encodeLineRequest({ offsets: [0], consumer: "c", flags: 0n, attrs })).toThrow(/at most 10 attributes/);
    expect(() => encodeLineRequest({ offsets: [-1], consumer: "c", flags: 0n })).toThrow(/not a u32/);
  });

  test("a partial trailing event record is an error, not dropped", () => {
    const two = encodeLineEvents([
      { timestampNs: 1n, id: 1, offset: 3, seqno: 1, lineSeqno: 1 },
      { timestampNs: 2n, id: 2, offset: 3, seqno: 2, lineSeqno: 2 },
    ]);
    expect(() => decodeLineEvents(two.subarray(0, 2 * LINE_EVENT_SIZE - 1))).toThrow(/47 trailing bytes/);
    expect(() => decodeLineEvents(new Uint8Array(50))).toThrow(/2 trailing bytes/);
    expect(decodeLineEvents(two.subarray(LINE_EVENT_SIZE))).toHaveLength(1);
    expect(decodeLineEvents(new Uint8Array(0))).toEqual([]);
  });

  test("decoders refuse short buffers", () => {
    expect(() => decodeChipInfo(new Uint8Array(67))).toThrow(/68 bytes/);
    expect(() => decodeLineValues(new Uint8Array(8))).toThrow(/16 bytes/);
    expect(() => lineRequestFd(new Uint8Array(100))).toThrow(/592 bytes/);
  });

  test("maskOf sets bit i for request line i", () => {
    expect(maskOf([0, 2, 63])).toBe((1n << 63n) | 0b101n);
    expect(() => maskOf([64])).toThrow(RangeError);
  });
});

describe("line configs from per-line settings", () => {
  const input = (lines: InputRequest["lines"]): InputRequest => ({ consumer: "t", lines });

  test("one setting for all lines: everything in the config flags, no attribute", () => {
    const cfg = inputConfig(input([{ offset: 4, activeLow: true, bias: "pull-up", edge: "both" }, { offset: 5, activeLow: true, bias: "pull-up", edge: "both" }]));
    expect(cfg).toEqual({
      flags: LineFlag.INPUT | LineFlag.ACTIVE_LOW | LineFlag.BIAS_PULL_UP | LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING,
      attrs: [],
    });
  });

  test("lines with different settings go in separate FLAGS attributes with masks; debounce periods likewise", () => {
    const cfg = inputConfig(
      input([
        { offset: 10, activeLow: true, bias: "pull-up", edge: "both", debounceUs: 1000 },
        { offset: 11, activeLow: true, bias: "pull-up", edge: "both", debounceUs: 1000 },
        { offset: 12, bias: "pull-down", edge: "rising", debounceUs: 5000 },
        { offset: 13, edge: "falling" },
        { offset: 14, activeLow: true, bias: "pull-up", edge: "both" },
      ]),
    );
    const both = LineFlag.INPUT | LineFlag.ACTIVE_LOW | LineFlag.BIAS_PULL_UP | LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING;
    expect(cfg.flags).toBe(both);
    expect(cfg.attrs).toEqual([
      { flags: LineFlag.INPUT | LineFlag.BIAS_PULL_DOWN | LineFlag.EDGE_RISING, mask: 0b00100n },
      { flags: LineFlag.INPUT | LineFlag.EDGE_FALLING, mask: 0b01000n },
      { debounceUs: 1000, mask: 0b00011n },
      { debounceUs: 5000, mask: 0b00100n },
    ]);
    // And it survives the trip through the request struct.
    const req = decodeLineRequest(encodeLineRequest({ offsets: [10, 11, 12, 13, 14], consumer: "t", ...cfg }));
    expect(req.attrs).toEqual(cfg.attrs);
  });

  test("outputs: drive flags per line and one OUTPUT_VALUES attribute with the initial values", () => {
    const cfg = outputConfig({
      consumer: "t",
      lines: [
        { offset: 1, initial: true },
        { offset: 2, initial: false, activeLow: true },
        { offset: 3, initial: true, drive: "open-drain" },
      ],
    });
    expect(cfg.flags).toBe(LineFlag.OUTPUT);
    expect(cfg.attrs).toEqual([
      { flags: LineFlag.OUTPUT | LineFlag.ACTIVE_LOW, mask: 0b010n },
      { flags: LineFlag.OUTPUT | LineFlag.OPEN_DRAIN, mask: 0b100n },
      { values: 0b101n, mask: 0b111n },
    ]);
  });

  test("more distinct settings than 10 attributes hold is refused with advice", () => {
    const lines = Array.from({ length: 11 }, (_, i) => ({ offset: i, debounceUs: 100 * (i + 1) }));
    expect(() => inputConfig(input(lines))).toThrow(/11 line attributes.*at most 10: split it/);
  });

  test("offsets: on the chip, 1..64 of them, none twice (EBUSY like the kernel)", () => {
    const chip = { name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58 };
    expect(() => checkOffsets([57], chip)).not.toThrow();
    expect(() => checkOffsets([58], chip)).toThrow("line 58 is not on gpiochip0 [pinctrl-bcm2711] (58 lines)");
    expect(() => checkOffsets([], chip)).toThrow(/1\.\.64 lines/);
    let err: unknown;
    try {
      checkOffsets([3, 4, 3], chip);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GpioError);
    expect(err).toMatchObject({ code: "EBUSY", errno: 16, message: "line 3 appears twice in one request" });
  });
});
