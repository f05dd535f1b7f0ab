import type { ByteDuplex } from "../serial/duplex";
import { Signal } from "../signal";
import {
  asciiBytes,
  commandDataLength,
  decodePosition,
  decodeU24,
  encodePosition,
  encodeStatus,
  encodeU24,
  isHex,
  U24_MAX,
} from "../synta/codec";
import { SyntaMotor } from "./synta-motor";

export interface SyntaBoardOptions {
  /** Counts per revolution (`a`); 9,024,000 on an EQ6/HEQ5. */
  cpr?: number;
  /** Step timer frequency (`b`); 64,935 on an EQ6/HEQ5 (sidereal period ≈ 620). */
  timerFreq?: number;
  /** High-speed ratio (`g`). */
  highSpeedRatio?: number;
  /** `e` reply: major, minor, mount code ("020300" = 2.03 on an EQ6). */
  firmware?: string;
  /** Goto cruise speed and acceleration of both axes. */
  slewRateDegS: number;
  accelDegS2: number;
  /** Echo each command line before its reply, as some adapters do. */
  echo?: boolean;
  now?: () => number;
}

export interface ReceivedCommand {
  cmd: string;
  axis: string;
  data: string;
  /** performance.now() when the command's last byte was parsed. */
  at: number;
}

/** The longest command line (`:` cmd axis 6 digits); anything longer is noise. */
const MAX_LINE = 12;

/** A simulated Sky-Watcher/Synta motor controller with two axes, serving the real protocol over any byte duplex
 * (an in-memory pipe or a pty). It answers like a board: `=data\r`, or `!code\r` for an unknown command (0), a wrong
 * length (1), `G`/`E` while the motor runs (2), a bad hex digit (3), and `J` before `F` (4). */
export class SyntaBoard {
  /** Emits when an axis starts, stops or changes rate (the limit-switch simulation re-plans then). */
  readonly motion = new Signal<void>();
  /** Every command line parsed, valid or not. */
  readonly received = new Signal<ReceivedCommand>();
  readonly cpr: number;
  readonly timerFreq: number;
  readonly highSpeedRatio: number;
  readonly firmware: string;
  private readonly motors: [SyntaMotor, SyntaMotor];
  private readonly echo: boolean;
  private link: ByteDuplex | null = null;
  private detach: (() => void)[] = [];
  private line: string | null = null;
  private muted = false;

  constructor(opts: SyntaBoardOptions) {
    this.cpr = opts.cpr ?? 9_024_000;
    this.timerFreq = opts.timerFreq ?? 64_935;
    this.highSpeedRatio = opts.highSpeedRatio ?? 16;
    this.firmware = opts.firmware ?? "020300";
    this.echo = opts.echo ?? false;
    const stepsPerDeg = this.cpr / 360;
    const make = () =>
      new SyntaMotor({
        cpr: this.cpr,
        timerFreq: this.timerFreq,
        highSpeedRatio: this.highSpeedRatio,
        slewStepsPerS: opts.slewRateDegS * stepsPerDeg,
        accelStepsPerS2: opts.accelDegS2 * stepsPerDeg,
        now: opts.now ?? (() => performance.now()),
        onMotion: () => this.motion.emit(),
      });
    this.motors = [make(), make()];
  }

  /** Serves the commands arriving on `link` (replacing any link attached before). */
  attach(link: ByteDuplex): void {
    for (const d of this.detach) d();
    this.link = link;
    this.line = null;
    this.detach = [
      link.data.on((chunk) => this.receive(chunk)),
      link.connection.on(() => {
        this.line = null;
      }),
    ];
  }

  /** Stops serving (the link stays open). */
  close(): void {
    for (const d of this.detach) d();
    this.detach = [];
    this.link = null;
    for (const m of this.motors) m.dispose();
  }

  // ---- for tests and the limit-switch simulation ----

  /** Signed step count of an axis (0 = the wire's 0x800000). */
  steps(axis: 1 | 2): number {
    return this.motor(axis).steps();
  }

  /** The axis angle a driver configured with `homeDeg` (and `reverse`) reports for the current step count. */
  angleDeg(axis: 1 | 2, homeDeg: number, reverse = false): number {
    return homeDeg + (reverse ? -1 : 1) * (this.steps(axis) * 360) / this.cpr;
  }

  /** The axis' signed speed in degrees per second as a driver configured with `reverse` sees it. */
  rateDegS(axis: 1 | 2, reverse = false): number {
    return ((reverse ? -1 : 1) * this.stepsPerSecond(axis) * 360) / this.cpr;
  }

  /** Speed in steps/s (signed; 0 when stopped). */
  stepsPerSecond(axis: 1 | 2): number {
    return this.motor(axis).velocity();
  }

  moving(axis: 1 | 2): boolean {
    return this.motor(axis).isRunning();
  }

  initialized(axis: 1 | 2): boolean {
    return this.motor(axis).initialized;
  }

  /** Stops answering (commands are still heard and obeyed): a broken receive line. */
  mute(on: boolean): void {
    this.muted = on;
  }

  /** Puts raw bytes on the line (noise, a truncated frame). */
  garble(bytes: Uint8Array | string): void {
    this.link?.write(typeof bytes === "string" ? asciiBytes(bytes) : bytes);
  }

  // ---- protocol ----

  private motor(axis: 1 | 2): SyntaMotor {
    return this.motors[axis - 1]!;
  }

  private receive(chunk: Uint8Array): void {
    for (const b of chunk) {
      const c = String.fromCharCode(b);
      if (c === ":") {
        this.line = "";
      } else if (this.line === null) {
        // Outside a command line: ignored, as a board ignores noise until the next ':'.
      } else if (c === "\r") {
        const line = this.line;
        this.line = null;
        this.command(line);
      } else if (this.line.length >= MAX_LINE) {
        this.line = null;
      } else {
        this.line += c;
      }
    }
  }

  private command(line: string): void {
    const at = performance.now();
    const cmd = line.slice(0, 1);
    const axis = line.slice(1, 2);
    const data = line.slice(2);
    const reply = this.execute(cmd, axis, data);
    if (this.echo) this.send(`:${line}\r`);
    this.send(`${reply}\r`);
    this.received.emit({ cmd, axis, data, at });
  }

  private send(text: string): void {
    if (this.muted || !this.link?.connected) return;
    try {
      this.link.write(asciiBytes(text));
    } catch {
      // The line went down while answering: the reply is lost, as on a real cable.
    }
  }

  /** The reply line (without `\r`) to one command. */
  private execute(cmd: string, axis: string, data: string): string {
    const dataLength = commandDataLength(cmd);
    if (dataLength === null) return "!0";
    const axes = this.axesOf(cmd, axis);
    if (axes === null) return axis === "" ? "!1" : "!0";
    if (data.length !== dataLength) return "!1";
    if (cmd !== "P" && !isHex(data)) return "!3";
    const motors = axes.map((a) => this.motor(a));
    const one = motors[0]!;
    switch (cmd) {
      case "e":
        return `=${this.firmware}`;
      case "a":
        return `=${encodeU24(this.cpr)}`;
      case "b":
        return `=${encodeU24(this.timerFreq)}`;
      case "g":
        return `=${encodeU24(this.highSpeedRatio).slice(0, 2)}`;
      case "j":
        return `=${encodePosition(one.steps())}`;
      case "f":
        return `=${encodeStatus(one.status())}`;
      case "D":
        return `=${encodeU24(Math.min(one.period, U24_MAX))}`;
      case "q":
        return "=000000";
      case "F":
        for (const m of motors) m.initialize();
        return "=";
      case "E":
        return refusal(one.setPosition(decodePosition(data))) ?? "=";
      case "G": {
        const mode = parseInt(data[0]!, 16);
        if (mode > 3) return "!3";
        return refusal(one.setMotionMode(mode, parseInt(data[1]!, 16) !== 0)) ?? "=";
      }
      case "I":
        one.setPeriod(decodeU24(data));
        return "=";
      case "H":
        one.setIncrement(decodeU24(data));
        return "=";
      case "S":
        one.setTarget(decodePosition(data));
        return "=";
      case "M":
        one.brake = decodeU24(data);
        return "=";
      case "U":
        one.brake = decodeU24(data);
        return "=";
      case "J":
        return refusal(one.start()) ?? "=";
      case "K":
        one.stop();
        return "=";
      case "L":
        one.halt();
        return "=";
      case "P":
        return "=";
      default:
        return "!0";
    }
  }

  /** The axes a command addresses: `1` or `2`; `3` (both) only for `F`. */
  private axesOf(cmd: string, axis: string): (1 | 2)[] | null {
    if (axis === "1") return [1];
    if (axis === "2") return [2];
    if (axis === "3" && cmd === "F") return [1, 2];
    return null;
  }
}

const refusal = (code: string | null) => (code === null ? null : `!${code}`);
