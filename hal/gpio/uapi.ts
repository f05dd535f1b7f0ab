// The Linux GPIO character-device ABI, uAPI v2 (include/uapi/linux/gpio.h; HARDWARE.md §3): constants, struct
// layouts, ioctl numbers, line configs and the encoders/decoders that turn plain values into the kernel's bytes. Pure: no I/O,
// no FFI, so the simulator and the tests use it freely. test/hal/gpio/uapi-probe.test.ts checks every size, offset,
// constant and ioctl number here against what gcc makes of the installed header.
import type { Bias, Edge, InputRequest, OutputRequest } from "./chip";

export const GPIO_MAX_NAME_SIZE = 32;
export const GPIO_V2_LINES_MAX = 64;
export const GPIO_V2_LINE_NUM_ATTRS_MAX = 10;

/** enum gpio_v2_line_flag: u64 bits, in the config's `flags` and in FLAGS attributes. */
export const LineFlag = {
  USED: 1n << 0n,
  ACTIVE_LOW: 1n << 1n,
  INPUT: 1n << 2n,
  OUTPUT: 1n << 3n,
  EDGE_RISING: 1n << 4n,
  EDGE_FALLING: 1n << 5n,
  OPEN_DRAIN: 1n << 6n,
  OPEN_SOURCE: 1n << 7n,
  BIAS_PULL_UP: 1n << 8n,
  BIAS_PULL_DOWN: 1n << 9n,
  BIAS_DISABLED: 1n << 10n,
  EVENT_CLOCK_REALTIME: 1n << 11n,
  EVENT_CLOCK_HTE: 1n << 12n,
} as const;

/** enum gpio_v2_line_attr_id. */
export const LineAttrId = { FLAGS: 1, OUTPUT_VALUES: 2, DEBOUNCE: 3 } as const;

/** enum gpio_v2_line_event_id: the logical edge (active-low already applied by the kernel). */
export const LineEventId = { RISING_EDGE: 1, FALLING_EDGE: 2 } as const;

/** Sizes and field offsets of every struct used (gcc; identical on x86-64, arm64 and armhf thanks to
 * `__aligned_u64`). The encoders below take their offsets from here, so the probe test checks them too. */
export const LAYOUT = {
  gpiochip_info: { size: 68, fields: { name: 0, label: 32, lines: 64 } },
  gpio_v2_line_values: { size: 16, fields: { bits: 0, mask: 8 } },
  gpio_v2_line_attribute: {
    size: 16,
    fields: { id: 0, padding: 4, flags: 8, values: 8, debounce_period_us: 8 },
  },
  gpio_v2_line_config_attribute: { size: 24, fields: { attr: 0, mask: 16 } },
  gpio_v2_line_config: { size: 272, fields: { flags: 0, num_attrs: 8, padding: 12, attrs: 32 } },
  gpio_v2_line_request: {
    size: 592,
    fields: { offsets: 0, consumer: 256, config: 288, num_lines: 560, event_buffer_size: 564, padding: 568, fd: 588 },
  },
  gpio_v2_line_info: {
    size: 256,
    fields: { name: 0, consumer: 32, offset: 64, num_attrs: 68, flags: 72, attrs: 80, padding: 240 },
  },
  gpio_v2_line_event: {
    size: 48,
    fields: { timestamp_ns: 0, id: 8, offset: 12, seqno: 16, line_seqno: 20, padding: 24 },
  },
} as const;

// asm-generic/ioctl.h: nr 8 bits @0, type 8 bits @8, size 14 bits @16, dir 2 bits @30. This is the encoding of
// x86, arm, arm64 and riscv (powerpc, mips, sparc and alpha use 13-bit sizes and 3-bit directions; not targets).
const IOC_WRITE = 1;
const IOC_READ = 2;
const GPIO_IOC_MAGIC = 0xb4;

function ioc(dir: number, type: number, nr: number, size: number): number {
  if (size >= 1 << 14) throw new RangeError(`ioctl argument of ${size} bytes does not fit the 14-bit size field`);
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
const ior = (nr: number, size: number) => ioc(IOC_READ, GPIO_IOC_MAGIC, nr, size);
const iowr = (nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, GPIO_IOC_MAGIC, nr, size);

export const IOCTL = {
  GPIO_GET_CHIPINFO_IOCTL: ior(0x01, LAYOUT.gpiochip_info.size),
  GPIO_GET_LINEINFO_UNWATCH_IOCTL: iowr(0x0c, 4),
  GPIO_V2_GET_LINEINFO_IOCTL: iowr(0x05, LAYOUT.gpio_v2_line_info.size),
  GPIO_V2_GET_LINEINFO_WATCH_IOCTL: iowr(0x06, LAYOUT.gpio_v2_line_info.size),
  GPIO_V2_GET_LINE_IOCTL: iowr(0x07, LAYOUT.gpio_v2_line_request.size),
  GPIO_V2_LINE_SET_CONFIG_IOCTL: iowr(0x0d, LAYOUT.gpio_v2_line_config.size),
  GPIO_V2_LINE_GET_VALUES_IOCTL: iowr(0x0e, LAYOUT.gpio_v2_line_values.size),
  GPIO_V2_LINE_SET_VALUES_IOCTL: iowr(0x0f, LAYOUT.gpio_v2_line_values.size),
} as const;

/** Everything the probe compares, in the shape `test/hal/gpio/uapi-probe.c` prints. */
export const ABI_TABLE = {
  structs: LAYOUT,
  ioctls: IOCTL,
  constants: {
    GPIO_MAX_NAME_SIZE,
    GPIO_V2_LINES_MAX,
    GPIO_V2_LINE_NUM_ATTRS_MAX,
    ...Object.fromEntries(Object.entries(LineFlag).map(([k, v]) => [`GPIO_V2_LINE_FLAG_${k}`, Number(v)])),
    ...Object.fromEntries(Object.entries(LineAttrId).map(([k, v]) => [`GPIO_V2_LINE_ATTR_ID_${k}`, v])),
    ...Object.fromEntries(Object.entries(LineEventId).map(([k, v]) => [`GPIO_V2_LINE_EVENT_${k}`, v])),
  } as Record<string, number>,
};

/** The errno values these calls return (asm-generic/errno-base.h and errno.h: the same numbers on x86-64, arm64
 * and armhf), for messages that name the error as `strace` would. */
export const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  19: "ENODEV",
  21: "EISDIR",
  22: "EINVAL",
  24: "EMFILE",
  25: "ENOTTY",
  95: "EOPNOTSUPP",
};
export const EBUSY = 16;
export const EINVAL = 22;

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** A failed system call, carrying the errno and its name like Node's system errors (`code: "EBUSY"`). Both the
 * character-device backend and the simulator throw it, so callers handle the two alike. */
export class GpioError extends Error {
  readonly code: string;
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
    this.name = "GpioError";
    this.code = errnoName(errno);
  }
}

// ----- line configs -------------------------------------------------------------------------------------------

const BIAS_FLAGS: Record<Bias, bigint> = {
  "pull-up": LineFlag.BIAS_PULL_UP,
  "pull-down": LineFlag.BIAS_PULL_DOWN,
  disabled: LineFlag.BIAS_DISABLED,
  "as-is": 0n,
};

const EDGE_FLAGS: Record<Edge, bigint> = {
  rising: LineFlag.EDGE_RISING,
  falling: LineFlag.EDGE_FALLING,
  both: LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING,
  none: 0n,
};

const DRIVE_FLAGS = { "push-pull": 0n, "open-drain": LineFlag.OPEN_DRAIN, "open-source": LineFlag.OPEN_SOURCE } as const;

/** The line config for per-line flags and debounce periods: the commonest flags go in the config's `flags`, every
 * other combination in a FLAGS attribute with the mask of its lines, each debounce period in a DEBOUNCE one. */
function lineConfig(lineFlags: bigint[], debounceUs: number[] = []): { flags: bigint; attrs: LineAttr[] } {
  const byFlags = groupIndices(lineFlags);
  let flags = 0n;
  let most = 0;
  for (const [f, idx] of byFlags) {
    if (idx.length > most) [flags, most] = [f, idx.length];
  }
  const attrs: LineAttr[] = [];
  for (const [f, idx] of byFlags) if (f !== flags) attrs.push({ flags: f, mask: maskOf(idx) });
  for (const [us, idx] of groupIndices(debounceUs)) if (us > 0) attrs.push({ debounceUs: us, mask: maskOf(idx) });
  return { flags, attrs };
}

function withinLimit(config: { flags: bigint; attrs: LineAttr[] }): { flags: bigint; attrs: LineAttr[] } {
  if (config.attrs.length > GPIO_V2_LINE_NUM_ATTRS_MAX) {
    throw new RangeError(
      `these lines need ${config.attrs.length} line attributes (distinct settings); one request holds at most ` +
        `${GPIO_V2_LINE_NUM_ATTRS_MAX}: split it`,
    );
  }
  return config;
}

function groupIndices<T>(values: T[]): Map<T, number[]> {
  const groups = new Map<T, number[]>();
  values.forEach((v, i) => {
    const g = groups.get(v);
    if (g) g.push(i);
    else groups.set(v, [i]);
  });
  return groups;
}

/** What the kernel checks of a request's offsets before anything else, with messages that say which line and
 * chip: 1..64 lines, each on the chip, none twice (the kernel answers EBUSY: the first copy holds the line). */
export function checkOffsets(offsets: readonly number[], chip: ChipInfo): void {
  if (offsets.length === 0 || offsets.length > GPIO_V2_LINES_MAX) {
    throw new RangeError(`a request holds 1..${GPIO_V2_LINES_MAX} lines, not ${offsets.length}`);
  }
  offsets.forEach((o, i) => {
    if (!Number.isInteger(o) || o < 0 || o >= chip.lines) {
      throw new RangeError(`line ${o} is not on ${chip.name} [${chip.label}] (${chip.lines} lines)`);
    }
    if (offsets.indexOf(o) !== i) throw new GpioError(`line ${o} appears twice in one request`, EBUSY);
  });
}

/** The flags and attributes of an input request: INPUT, active-low, bias and edges per line, debounce periods. */
export function inputConfig(request: InputRequest): { flags: bigint; attrs: LineAttr[] } {
  return withinLimit(
    lineConfig(
      request.lines.map(
        (l) => LineFlag.INPUT | (l.activeLow ? LineFlag.ACTIVE_LOW : 0n) | BIAS_FLAGS[l.bias ?? "as-is"] | EDGE_FLAGS[l.edge ?? "none"],
      ),
      request.lines.map((l) => l.debounceUs ?? 0),
    ),
  );
}

/** The flags and attributes of an output request: OUTPUT, active-low and drive per line, initial values. */
export function outputConfig(request: OutputRequest): { flags: bigint; attrs: LineAttr[] } {
  const { flags, attrs } = lineConfig(
    request.lines.map((l) => LineFlag.OUTPUT | (l.activeLow ? LineFlag.ACTIVE_LOW : 0n) | DRIVE_FLAGS[l.drive ?? "push-pull"]),
  );
  attrs.push({ values: maskOf(request.lines.flatMap((l, i) => (l.initial ? [i] : []))), mask: maskOf(request.lines.keys()) });
  return withinLimit({ flags, attrs });
}

// ----- encoders / decoders --------------------------------------------------------------------------------------

// The kernel's structs are in the CPU's byte order.
const NATIVE_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function view(bytes: ArrayBuffer | ArrayBufferView): DataView {
  return bytes instanceof ArrayBuffer
    ? new DataView(bytes)
    : new DataView(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

function need(v: DataView, size: number, what: string): void {
  if (v.byteLength < size) throw new RangeError(`${what} needs ${size} bytes, got ${v.byteLength}`);
}

/** Writes a NUL-terminated string into a char[GPIO_MAX_NAME_SIZE], cut (like the kernel does) to 31 bytes, never
 * in the middle of a UTF-8 sequence. */
function putName(v: DataView, at: number, s: string): void {
  let bytes = utf8.encode(s);
  if (bytes.length > GPIO_MAX_NAME_SIZE - 1) {
    let end = GPIO_MAX_NAME_SIZE - 1;
    while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  new Uint8Array(v.buffer, v.byteOffset + at, GPIO_MAX_NAME_SIZE).set(bytes);
}

function getName(v: DataView, at: number): string {
  const raw = new Uint8Array(v.buffer, v.byteOffset + at, GPIO_MAX_NAME_SIZE);
  const nul = raw.indexOf(0);
  return utf8Decoder.decode(raw.subarray(0, nul < 0 ? raw.length : nul));
}

/** A mask over request lines (bit i = offsets[i], not the chip offset). */
export function maskOf(indices: Iterable<number>): bigint {
  let m = 0n;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= GPIO_V2_LINES_MAX) throw new RangeError(`line index ${i} is outside 0..63`);
    m |= 1n << BigInt(i);
  }
  return m;
}

export interface ChipInfo {
  name: string;
  label: string;
  lines: number;
}

export function encodeChipInfo(info: ChipInfo): ArrayBuffer {
  const buf = new ArrayBuffer(LAYOUT.gpiochip_info.size);
  const v = new DataView(buf);
  const f = LAYOUT.gpiochip_info.fields;
  putName(v, f.name, info.name);
  putName(v, f.label, info.label);
  v.setUint32(f.lines, info.lines, NATIVE_LE);
  return buf;
}

export function decodeChipInfo(bytes: ArrayBuffer | ArrayBufferView): ChipInfo {
  const v = view(bytes);
  need(v, LAYOUT.gpiochip_info.size, "gpiochip_info");
  const f = LAYOUT.gpiochip_info.fields;
  return { name: getName(v, f.name), label: getName(v, f.label), lines: v.getUint32(f.lines, NATIVE_LE) };
}

/** struct gpio_v2_line_values: bit i is the logical value of offsets[i]; only bits set in `mask` count. */
export interface LineValues {
  bits: bigint;
  mask: bigint;
}

export function encodeLineValues({ bits, mask }: LineValues): ArrayBuffer {
  const buf = new ArrayBuffer(LAYOUT.gpio_v2_line_values.size);
  const v = new DataView(buf);
  v.setBigUint64(LAYOUT.gpio_v2_line_values.fields.bits, BigInt.asUintN(64, bits), NATIVE_LE);
  v.setBigUint64(LAYOUT.gpio_v2_line_values.fields.mask, BigInt.asUintN(64, mask), NATIVE_LE);
  return buf;
}

export function decodeLineValues(bytes: ArrayBuffer | ArrayBufferView): LineValues {
  const v = view(bytes);
  need(v, LAYOUT.gpio_v2_line_values.size, "gpio_v2_line_values");
  return {
    bits: v.getBigUint64(LAYOUT.gpio_v2_line_values.fields.bits, NATIVE_LE),
    mask: v.getBigUint64(LAYOUT.gpio_v2_line_values.fields.mask, NATIVE_LE),
  };
}

/** One gpio_v2_line_config_attribute: flags, output values or a debounce period for the lines in `mask`. */
export type LineAttr =
  | { flags: bigint; mask: bigint }
  | { values: bigint; mask: bigint }
  | { debounceUs: number; mask: bigint };

export interface LineRequest {
  /** Chip line offsets; bit i of every mask and value refers to offsets[i]. */
  offsets: number[];
  consumer: string;
  /** Flags of every line no FLAGS attribute covers. */
  flags: bigint;
  attrs?: LineAttr[];
  /** 0: the kernel's default (16 × lines). */
  eventBufferSize?: number;
}

function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} ${n} is not a u32`);
  return n;
}

function encodeAttr(v: DataView, at: number, a: LineAttr): void {
  const f = LAYOUT.gpio_v2_line_attribute.fields;
  if ("flags" in a) {
    v.setUint32(at + f.id, LineAttrId.FLAGS, NATIVE_LE);
    v.setBigUint64(at + f.flags, BigInt.asUintN(64, a.flags), NATIVE_LE);
  } else if ("values" in a) {
    v.setUint32(at + f.id, LineAttrId.OUTPUT_VALUES, NATIVE_LE);
    v.setBigUint64(at + f.values, BigInt.asUintN(64, a.values), NATIVE_LE);
  } else {
    v.setUint32(at + f.id, LineAttrId.DEBOUNCE, NATIVE_LE);
    v.setUint32(at + f.debounce_period_us, u32(a.debounceUs, "debounce period (µs)"), NATIVE_LE);
  }
}

function decodeAttr(v: DataView, at: number, mask: bigint): LineAttr {
  const f = LAYOUT.gpio_v2_line_attribute.fields;
  const id = v.getUint32(at + f.id, NATIVE_LE);
  switch (id) {
    case LineAttrId.FLAGS:
      return { flags: v.getBigUint64(at + f.flags, NATIVE_LE), mask };
    case LineAttrId.OUTPUT_VALUES:
      return { values: v.getBigUint64(at + f.values, NATIVE_LE), mask };
    case LineAttrId.DEBOUNCE:
      return { debounceUs: v.getUint32(at + f.debounce_period_us, NATIVE_LE), mask };
    default:
      throw new RangeError(`unknown line attribute id ${id}`);
  }
}

/** struct gpio_v2_line_request, ready for GPIO_V2_GET_LINE_IOCTL (which writes the request fd back into it). */
export function encodeLineRequest(req: LineRequest): ArrayBuffer {
  const attrs = req.attrs ?? [];
  if (req.offsets.length < 1 || req.offsets.length > GPIO_V2_LINES_MAX) {
    throw new RangeError(`a line request holds 1..${GPIO_V2_LINES_MAX} lines, not ${req.offsets.length}`);
  }
  if (attrs.length > GPIO_V2_LINE_NUM_ATTRS_MAX) {
    throw new RangeError(`a line request holds at most ${GPIO_V2_LINE_NUM_ATTRS_MAX} attributes, not ${attrs.length}`);
  }
  const buf = new ArrayBuffer(LAYOUT.gpio_v2_line_request.size);
  const v = new DataView(buf);
  const f = LAYOUT.gpio_v2_line_request.fields;
  req.offsets.forEach((o, i) => v.setUint32(f.offsets + 4 * i, u32(o, "line offset"), NATIVE_LE));
  putName(v, f.consumer, req.consumer);
  const c = LAYOUT.gpio_v2_line_config.fields;
  v.setBigUint64(f.config + c.flags, BigInt.asUintN(64, req.flags), NATIVE_LE);
  v.setUint32(f.config + c.num_attrs, attrs.length, NATIVE_LE);
  const ca = LAYOUT.gpio_v2_line_config_attribute;
  attrs.forEach((a, i) => {
    const at = f.config + c.attrs + i * ca.size;
    encodeAttr(v, at + ca.fields.attr, a);
    v.setBigUint64(at + ca.fields.mask, BigInt.asUintN(64, a.mask), NATIVE_LE);
  });
  v.setUint32(f.num_lines, req.offsets.length, NATIVE_LE);
  v.setUint32(f.event_buffer_size, u32(req.eventBufferSize ?? 0, "event buffer size"), NATIVE_LE);
  return buf;
}

export function decodeLineRequest(bytes: ArrayBuffer | ArrayBufferView): LineRequest & { fd: number } {
  const v = view(bytes);
  need(v, LAYOUT.gpio_v2_line_request.size, "gpio_v2_line_request");
  const f = LAYOUT.gpio_v2_line_request.fields;
  const c = LAYOUT.gpio_v2_line_config.fields;
  const ca = LAYOUT.gpio_v2_line_config_attribute;
  const numLines = Math.min(v.getUint32(f.num_lines, NATIVE_LE), GPIO_V2_LINES_MAX);
  const numAttrs = Math.min(v.getUint32(f.config + c.num_attrs, NATIVE_LE), GPIO_V2_LINE_NUM_ATTRS_MAX);
  const attrs: LineAttr[] = [];
  for (let i = 0; i < numAttrs; i++) {
    const at = f.config + c.attrs + i * ca.size;
    attrs.push(decodeAttr(v, at + ca.fields.attr, v.getBigUint64(at + ca.fields.mask, NATIVE_LE)));
  }
  return {
    offsets: Array.from({ length: numLines }, (_, i) => v.getUint32(f.offsets + 4 * i, NATIVE_LE)),
    consumer: getName(v, f.consumer),
    flags: v.getBigUint64(f.config + c.flags, NATIVE_LE),
    attrs,
    eventBufferSize: v.getUint32(f.event_buffer_size, NATIVE_LE),
    fd: lineRequestFd(v),
  };
}

/** The request's file descriptor, written back by a successful GPIO_V2_GET_LINE_IOCTL. */
export function lineRequestFd(bytes: ArrayBuffer | ArrayBufferView): number {
  const v = view(bytes);
  need(v, LAYOUT.gpio_v2_line_request.size, "gpio_v2_line_request");
  return v.getInt32(LAYOUT.gpio_v2_line_request.fields.fd, NATIVE_LE);
}

export interface LineInfo {
  name: string;
  consumer: string;
  offset: number;
  flags: bigint;
  attrs: LineAttr[];
}

/** The argument of GPIO_V2_GET_LINEINFO_IOCTL: everything zero but the offset asked about. */
export function encodeLineInfoQuery(offset: number): ArrayBuffer {
  const buf = new ArrayBuffer(LAYOUT.gpio_v2_line_info.size);
  new DataView(buf).setUint32(LAYOUT.gpio_v2_line_info.fields.offset, u32(offset, "line offset"), NATIVE_LE);
  return buf;
}

export function encodeLineInfo(info: LineInfo): ArrayBuffer {
  if (info.attrs.length > GPIO_V2_LINE_NUM_ATTRS_MAX) throw new RangeError(`too many attributes: ${info.attrs.length}`);
  const buf = encodeLineInfoQuery(info.offset);
  const v = new DataView(buf);
  const f = LAYOUT.gpio_v2_line_info.fields;
  putName(v, f.name, info.name);
  putName(v, f.consumer, info.consumer);
  v.setUint32(f.num_attrs, info.attrs.length, NATIVE_LE);
  v.setBigUint64(f.flags, BigInt.asUintN(64, info.flags), NATIVE_LE);
  info.attrs.forEach((a, i) => encodeAttr(v, f.attrs + i * LAYOUT.gpio_v2_line_attribute.size, a));
  return buf;
}

/** struct gpio_v2_line_info. Its attributes carry no mask (they all describe this one line): `mask` reads 1. */
export function decodeLineInfo(bytes: ArrayBuffer | ArrayBufferView): LineInfo {
  const v = view(bytes);
  need(v, LAYOUT.gpio_v2_line_info.size, "gpio_v2_line_info");
  const f = LAYOUT.gpio_v2_line_info.fields;
  const n = Math.min(v.getUint32(f.num_attrs, NATIVE_LE), GPIO_V2_LINE_NUM_ATTRS_MAX);
  const attrs: LineAttr[] = [];
  for (let i = 0; i < n; i++) attrs.push(decodeAttr(v, f.attrs + i * LAYOUT.gpio_v2_line_attribute.size, 1n));
  return {
    name: getName(v, f.name),
    consumer: getName(v, f.consumer),
    offset: v.getUint32(f.offset, NATIVE_LE),
    flags: v.getBigUint64(f.flags, NATIVE_LE),
    attrs,
  };
}

/** struct gpio_v2_line_event. `offset` is the chip offset; `id` is logical (rising = the value became 1). */
export interface LineEvent {
  timestampNs: bigint;
  id: number;
  offset: number;
  seqno: number;
  lineSeqno: number;
}

export const LINE_EVENT_SIZE = LAYOUT.gpio_v2_line_event.size;

/** One or more events as the kernel's read() returns them (tests write these into a pipe). */
export function encodeLineEvents(events: readonly LineEvent[]): Uint8Array {
  const out = new Uint8Array(events.length * LINE_EVENT_SIZE);
  const v = view(out);
  const f = LAYOUT.gpio_v2_line_event.fields;
  events.forEach((e, i) => {
    const at = i * LINE_EVENT_SIZE;
    v.setBigUint64(at + f.timestamp_ns, BigInt.asUintN(64, e.timestampNs), NATIVE_LE);
    v.setUint32(at + f.id, e.id, NATIVE_LE);
    v.setUint32(at + f.offset, e.offset, NATIVE_LE);
    v.setUint32(at + f.seqno, e.seqno, NATIVE_LE);
    v.setUint32(at + f.line_seqno, e.lineSeqno, NATIVE_LE);
  });
  return out;
}

/** The records of one read(). The kernel only ever returns whole records, so a partial trailing one means the
 * bytes did not come from a line request (or were cut): an error, never silently dropped. */
export function decodeLineEvents(bytes: ArrayBuffer | ArrayBufferView): LineEvent[] {
  const v = view(bytes);
  if (v.byteLength % LINE_EVENT_SIZE !== 0) {
    throw new RangeError(
      `${v.byteLength} bytes is not a whole number of ${LINE_EVENT_SIZE}-byte gpio_v2_line_event records ` +
        `(${v.byteLength % LINE_EVENT_SIZE} trailing bytes)`,
    );
  }
  const f = LAYOUT.gpio_v2_line_event.fields;
  const events: LineEvent[] = [];
  for (let at = 0; at < v.byteLength; at += LINE_EVENT_SIZE) {
    events.push({
      timestampNs: v.getBigUint64(at + f.timestamp_ns, NATIVE_LE),
      id: v.getUint32(at + f.id, NATIVE_LE),
      offset: v.getUint32(at + f.offset, NATIVE_LE),
      seqno: v.getUint32(at + f.seqno, NATIVE_LE),
      lineSeqno: v.getUint32(at + f.line_seqno, NATIVE_LE),
    });
  }
  return events;
}
