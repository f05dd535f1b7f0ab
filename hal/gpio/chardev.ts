// GpioChip over the Linux GPIO character device, uAPI v2 (HARDWARE.md §3): CHIPINFO to find the chip by label,
// GET_LINE to request lines, GET/SET_VALUES on the request fd, edge events via EventReader.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { EdgeHealth, GpioChip, GpioInputs, GpioOutputs, InputRequest, LineEdge, OutputRequest } from "./chip";
import type { ReaderReflex } from "./event-reader";
import { SupervisedReader } from "./supervised-reader";
import * as libc from "./libc";
import {
  decodeChipInfo,
  decodeLineInfo,
  decodeLineValues,
  EBUSY,
  encodeLineInfoQuery,
  encodeLineRequest,
  encodeLineValues,
  checkOffsets,
  GpioError,
  inputConfig,
  IOCTL,
  LAYOUT,
  lineRequestFd,
  LineFlag,
  maskOf,
  outputConfig,
  type ChipInfo,
  type LineAttr,
} from "./uapi";
import { silentLog, type HalLog } from "../log";
import { Signal } from "../signal";

export interface OpenGpioChipOptions {
  /** The chip's label as `gpiodetect` shows it ("pinctrl-bcm2711", "pinctrl-rp1"): stable across kernels. */
  label?: string;
  /** /dev/gpiochipN. With `label` too, the chip at that path must carry that label. */
  path?: string;
  /** Where to look for gpiochip* when selecting by label. */
  dir?: string;
  log?: HalLog;
}

/** Opens a GPIO chip by label (scanning /dev/gpiochip*) or by path; throws a clear Error when none matches. */
export function openGpioChip(opts: OpenGpioChipOptions): GpioChip {
  const log = opts.log ?? silentLog;
  if (opts.path !== undefined) {
    const chip = CharDevChip.open(opts.path, log);
    if (opts.label !== undefined && chip.info.label !== opts.label) {
      chip.close();
      throw new Error(`${opts.path} is labelled '${chip.info.label}', not '${opts.label}'`);
    }
    return chip;
  }
  if (opts.label === undefined) throw new Error("openGpioChip needs a chip label or a path");
  const dir = opts.dir ?? "/dev";
  const paths = listChips(dir);
  if (paths.length === 0) throw new Error(`no ${join(dir, "gpiochip*")} on this machine`);
  const found: string[] = [];
  for (const path of paths) {
    let chip: CharDevChip;
    try {
      chip = CharDevChip.open(path, log);
    } catch (e) {
      found.push(`${path} (${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    if (chip.info.label === opts.label) return chip;
    found.push(`${path} [${chip.info.label}] (${chip.info.lines} lines)`);
    chip.close();
  }
  throw new Error(`no GPIO chip labelled '${opts.label}'; found: ${found.join(", ")}`);
}

function listChips(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^gpiochip\d+$/.test(n))
    .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
    .map((n) => join(dir, n));
}

/** One open /dev/gpiochipN. */
export class CharDevChip implements GpioChip {
  private readonly requests = new Set<{ release(): void }>();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly info: ChipInfo,
    private readonly log: HalLog,
  ) {}

  static open(path: string, log: HalLog = silentLog): CharDevChip {
    let fd: number;
    try {
      fd = libc.open(path, libc.O_RDWR | libc.O_CLOEXEC);
    } catch (e) {
      // Raspberry Pi OS gives /dev/gpiochip* to the gpio group.
      if (e instanceof GpioError && e.code === "EACCES") {
        throw new GpioError(`${e.message}: add the user to the 'gpio' group (or a udev rule for ${path})`, e.errno);
      }
      throw e;
    }
    try {
      const buf = new Uint8Array(LAYOUT.gpiochip_info.size);
      libc.ioctl(fd, IOCTL.GPIO_GET_CHIPINFO_IOCTL, buf, `GPIO_GET_CHIPINFO_IOCTL on ${path}`);
      return new CharDevChip(path, fd, decodeChipInfo(buf), log);
    } catch (e) {
      libc.close(fd);
      throw e;
    }
  }

  requestInputs(request: InputRequest): GpioInputs {
    const offsets = request.lines.map((l) => l.offset);
    checkOffsets(offsets, this.info);
    const { flags, attrs } = inputConfig(request);
    const fd = this.requestLines(offsets, request.consumer, flags, attrs);
    const watched = request.lines.some((l) => (l.edge ?? "none") !== "none");
    let inputs: CharDevInputs;
    try {
      const reflexes = (request.reflexes ?? []).map((r) => ({ offset: r.offset, wire: r.wire.buffer, bytes: r.bytes, latch: r.latch?.id }));
      inputs = new CharDevInputs(fd, offsets, watched ? `${this.path} lines ${offsets.join(",")}` : null, this.log, reflexes, () =>
        this.requests.delete(inputs),
      );
    } catch (e) {
      libc.close(fd); // no reader thread: give the lines back rather than hold them unread
      throw e;
    }
    this.requests.add(inputs);
    return inputs;
  }

  requestOutputs(request: OutputRequest): GpioOutputs {
    const offsets = request.lines.map((l) => l.offset);
    checkOffsets(offsets, this.info);
    const { flags, attrs } = outputConfig(request);
    const fd = this.requestLines(offsets, request.consumer, flags, attrs);
    const outputs = new CharDevOutputs(fd, offsets, () => this.requests.delete(outputs));
    this.requests.add(outputs);
    return outputs;
  }

  /** Closes the chip and releases every request it handed out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of [...this.requests]) r.release();
    libc.close(this.fd);
  }

  private requestLines(offsets: number[], consumer: string, flags: bigint, attrs: LineAttr[]): number {
    if (this.closed) throw new Error(`${this.path} is closed`);
    const buf = new Uint8Array(encodeLineRequest({ offsets, consumer, flags, attrs }));
    try {
      libc.ioctl(this.fd, IOCTL.GPIO_V2_GET_LINE_IOCTL, buf, `GPIO_V2_GET_LINE_IOCTL on ${this.path} (lines ${offsets.join(",")})`);
    } catch (e) {
      if (e instanceof GpioError && e.errno === EBUSY) throw new GpioError(`${e.message}: ${this.holders(offsets)}`, e.errno);
      throw e;
    }
    return lineRequestFd(buf);
  }

  /** Who holds each busy line, for the EBUSY message (what `gpioinfo` would show). */
  private holders(offsets: number[]): string {
    const held: string[] = [];
    for (const o of offsets) {
      const buf = new Uint8Array(encodeLineInfoQuery(o));
      try {
        libc.ioctl(this.fd, IOCTL.GPIO_V2_GET_LINEINFO_IOCTL, buf, "GPIO_V2_GET_LINEINFO_IOCTL");
      } catch {
        continue;
      }
      const info = decodeLineInfo(buf);
      if (info.flags & LineFlag.USED) held.push(`line ${o} is held by '${info.consumer || "the kernel"}'`);
    }
    return held.length > 0 ? held.join(", ") : "a line is in use";
  }
}

/** GET_VALUES on a request fd: logical values in the request's line order. */
function getValues(fd: number, count: number): boolean[] {
  const buf = new Uint8Array(encodeLineValues({ bits: 0n, mask: maskOf(Array.from({ length: count }, (_, i) => i)) }));
  libc.ioctl(fd, IOCTL.GPIO_V2_LINE_GET_VALUES_IOCTL, buf, "GPIO_V2_LINE_GET_VALUES_IOCTL");
  const { bits } = decodeLineValues(buf);
  return Array.from({ length: count }, (_, i) => ((bits >> BigInt(i)) & 1n) === 1n);
}

class CharDevInputs implements GpioInputs {
  readonly edges = new Signal<LineEdge>();
  readonly health = new Signal<EdgeHealth>();
  private readonly reader: SupervisedReader | null;
  private fd: number | null;

  constructor(
    fd: number,
    private readonly offsets: number[],
    readerName: string | null,
    log: HalLog,
    reflexes: ReaderReflex[],
    private readonly onRelease: () => void,
  ) {
    this.fd = fd;
    // A restarted reader thread reads the same request fd: the kernel kept the edges it queued meanwhile (up to its
    // buffer), and the owner re-reads the levels anyway.
    const source = {
      open: () => {
        if (this.fd === null) throw new Error("GPIO input lines were released");
        return this.fd;
      },
      release: () => {},
    };
    this.reader = readerName === null ? null : new SupervisedReader(source, { name: readerName, log, reflexes });
    this.reader?.edges.on((e) => this.edges.emit(e));
    this.reader?.health.on((h) => this.health.emit(h));
  }

  values(): boolean[] {
    if (this.fd === null) throw new Error("GPIO input lines were released");
    return getValues(this.fd, this.offsets.length);
  }

  release(): void {
    if (this.fd === null) return;
    this.reader?.stop();
    libc.close(this.fd);
    this.fd = null;
    this.onRelease();
  }
}

class CharDevOutputs implements GpioOutputs {
  private fd: number | null;

  constructor(
    fd: number,
    private readonly offsets: number[],
    private readonly onRelease: () => void,
  ) {
    this.fd = fd;
  }

  set(offset: number, value: boolean): void {
    if (this.fd === null) throw new Error("GPIO output lines were released");
    const i = this.offsets.indexOf(offset);
    if (i < 0) throw new RangeError(`line ${offset} is not in this request (${this.offsets.join(",")})`);
    const buf = new Uint8Array(encodeLineValues({ bits: value ? 1n << BigInt(i) : 0n, mask: 1n << BigInt(i) }));
    libc.ioctl(this.fd, IOCTL.GPIO_V2_LINE_SET_VALUES_IOCTL, buf, `GPIO_V2_LINE_SET_VALUES_IOCTL (line ${offset})`);
  }

  values(): boolean[] {
    if (this.fd === null) throw new Error("GPIO output lines were released");
    return getValues(this.fd, this.offsets.length);
  }

  release(): void {
    if (this.fd === null) return;
    libc.close(this.fd);
    this.fd = null;
    this.onRelease();
  }
}
