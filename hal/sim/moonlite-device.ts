import { CommandParser, decodeHex, encodePosition, encodeTemperature } from "../moonlite/codec";
import type { ByteDuplex } from "../serial/duplex";

export interface MoonliteDeviceOptions {
  /** Step counter at power-on. */
  position: number;
  /** End of travel: the motor never drives the counter past 0..maxStep. */
  maxStep?: number;
  /** Steps per second at the fastest step delay (02); slower delays divide it (04 → half, ..., 20 → 1/16). The
   * Moonlite documentation gives 250. */
  stepsPerS?: number;
  temperatureC?: number;
  /** Firmware version `GV` reports (two characters). */
  version?: string;
  now?: () => number;
}

const ascii = new TextEncoder();

/** A temperature probe with 0.5 °C resolution converts in about 94 ms (a DS18B20 at 9 bits). */
const CONVERSION_MS = 100;

/** A Moonlite focuser controller on the far end of a byte duplex: it answers the protocol the way the firmware does
 * (unknown commands and bytes outside `:…#` ignored, no replies to set commands) and moves at a constant step rate.
 * Motion is computed from the clock when asked, so an idle or moving device holds no timers. */
export class MoonliteDevice {
  private readonly maxStep: number;
  private readonly baseRate: number;
  private readonly version: string;
  private readonly now: () => number;
  /** The counter at `since`, and where it is heading (null: still). */
  private from: number;
  private since: number;
  private heading: number | null = null;
  private targetRegister: number;
  private delay = 0x02;
  private halfStep = false;
  private compensation = false;
  private temperatureC: number;
  private temperatureRegister: string;
  private conversion: { readyAt: number; value: number } | null = null;
  private muted = false;

  constructor(opts: MoonliteDeviceOptions) {
    this.maxStep = opts.maxStep ?? 0xffff;
    this.baseRate = opts.stepsPerS ?? 250;
    this.version = opts.version ?? "10";
    this.now = opts.now ?? (() => performance.now());
    this.from = this.targetRegister = this.clamp(opts.position);
    this.since = this.now();
    this.temperatureC = opts.temperatureC ?? 20;
    // The firmware converts once at power-on, so `GT` has a value before the first `C`.
    this.temperatureRegister = encodeTemperature(this.temperatureC);
  }

  /** Serves the protocol on `link` (one link at a time); returns a function that detaches it. */
  attach(link: ByteDuplex): () => void {
    const parser = new CommandParser();
    return link.data.on((bytes) => {
      if (this.muted) return;
      for (const command of parser.push(bytes)) {
        const reply = this.execute(command);
        if (reply === null) continue;
        try {
          link.write(ascii.encode(reply));
        } catch {
          // The cable went while answering: the host will time out, as with the real device.
        }
      }
    });
  }

  /** The step counter now. */
  position(): number {
    this.advance();
    return this.from;
  }

  moving(): boolean {
    this.advance();
    return this.heading !== null;
  }

  /** The probe's temperature; the device reports it after the next `:C#` conversion. */
  setTemperature(temperatureC: number): void {
    this.temperatureC = temperatureC;
  }

  /** Fault injection: while muted the controller ignores everything it receives (a hung or browned-out board). */
  mute(on: boolean): void {
    this.muted = on;
  }

  private execute(command: string): string | null {
    const op = command.slice(0, 2);
    const arg = command.slice(2);
    switch (op) {
      case "GP":
        return `${encodePosition(this.position())}#`;
      case "GN":
        return `${encodePosition(this.targetRegister)}#`;
      case "GI":
        return this.moving() ? "01#" : "00#";
      case "GD":
        return `${this.delay.toString(16).toUpperCase().padStart(2, "0")}#`;
      case "GH":
        return this.halfStep ? "FF#" : "00#";
      case "GV":
        return `${this.version}#`;
      case "GT":
        return `${this.readTemperature()}#`;
      case "SN":
        this.withHex(arg, 4, (v) => (this.targetRegister = v));
        return null;
      case "SP":
        // Syncing the counter also stops the motor (the stepper library zeroes its speed when the position is set).
        this.withHex(arg, 4, (v) => this.restart(this.clamp(v), null));
        return null;
      case "FG":
        this.advance();
        this.restart(this.from, this.clamp(this.targetRegister));
        return null;
      case "FQ":
        this.advance();
        this.restart(this.from, null);
        return null;
      case "SF":
      case "SH":
        // The counter counts whatever the driver steps, so the mode changes resolution, not counted steps per second.
        this.halfStep = op === "SH";
        return null;
      case "SD":
        this.withHex(arg, 2, (v) => {
          if (v === 0) return;
          this.advance();
          this.delay = v;
          this.restart(this.from, this.heading);
        });
        return null;
      default:
        break;
    }
    if (command === "C") {
      this.conversion = { readyAt: this.now() + CONVERSION_MS, value: this.temperatureC };
    } else if (command === "+" || command === "-") {
      this.compensation = command === "+";
    }
    return null;
  }

  private readTemperature(): string {
    if (this.conversion && this.now() >= this.conversion.readyAt) {
      this.temperatureRegister = encodeTemperature(this.conversion.value);
      this.conversion = null;
    }
    return this.temperatureRegister;
  }

  private withHex(arg: string, digits: number, apply: (value: number) => void): void {
    try {
      apply(decodeHex(arg, digits));
    } catch {
      // Malformed argument: the firmware's hex parser would produce garbage; ignoring it is the kinder model.
    }
  }

  private get rate(): number {
    return (this.baseRate * 2) / this.delay;
  }

  private restart(position: number, heading: number | null): void {
    this.from = position;
    this.since = this.now();
    this.heading = heading === null || heading === position ? null : heading;
  }

  /** Brings the counter up to now: whole steps at the current rate, halting on arrival. */
  private advance(): void {
    if (this.heading === null) return;
    const t = this.now();
    const distance = this.heading - this.from;
    const steps = Math.floor(((t - this.since) * this.rate) / 1000);
    if (steps >= Math.abs(distance)) {
      this.from = this.heading;
      this.heading = null;
      this.since = t;
    } else if (steps > 0) {
      this.from += Math.sign(distance) * steps;
      this.since += (steps * 1000) / this.rate;
    }
  }

  private clamp(step: number): number {
    return Math.max(0, Math.min(this.maxStep, step));
  }

  /** Whether `:+#` turned temperature compensation on (recorded only: the simulated focus does not drift). */
  get compensating(): boolean {
    return this.compensation;
  }
}
