import { DeviceError } from "../errors";
import type { Focuser } from "../focuser";
import { type HalLog, silentLog } from "../log";
import type { MotionStatus, MoveOutcome } from "../motion";
import type { ByteDuplex } from "../serial/duplex";
import { Signal } from "../signal";
import { MoonliteClient } from "./client";
import { decodeHalfStep, decodeHex, decodeMoving, decodePosition, decodeTemperature, encodePosition, stepsPerSecond } from "./codec";

export interface MoonliteFocuserOptions {
  /** Microns of travel per counted step (per half step when the controller is in half-step mode). */
  stepUm: number;
  /** The travel moves are allowed in, in microns. */
  minUm: number;
  maxUm: number;
  /** Expected speed, until measured; without it the speed the controller's step delay (`GD`) stands for is used. */
  speedUmS?: number;
  log?: HalLog;
  /** Poll period while moving (≈ 100 ms) and while idle (≈ 1 s). */
  pollMs?: { moving?: number; idle?: number };
  /** How often the temperature is measured (`:C#`, then `:GT#` once converted). */
  temperatureMs?: number;
  /** Reply timeout and retries, passed to the client (INDI: 3 s). */
  timeoutMs?: number;
  retries?: number;
  name?: string;
}

/** Time the probe gets between `:C#` and `:GT#`: a 12-bit DS18B20 needs 750 ms, the coarsest probes far less. */
const CONVERSION_MS = 1000;
/** Extrapolation stops this long after the last poll: if polls stall, the reported position must not run away. */
const MAX_EXTRAPOLATION_MS = 1000;

interface PendingMove {
  step: number;
  resolve: (outcome: MoveOutcome) => void;
}

/** A Moonlite focuser (HARDWARE.md §2) behind the Focuser interface.
 *
 * Positions: microns = step counter × `stepUm`, so step 0 is 0 µm. The Moonlite counter is relative (whatever the
 * last `:SP#` or power-on set it to), so 0 µm is the inward end of travel only if the counter was zeroed there.
 *
 * The controller cannot report events, so the driver polls `GI` (moving?) then `GP` (position): every ~100 ms while
 * moving, ~1 s when idle. `GI` is read first, so a "stopped" answer is followed by the final position. While moving,
 * `status().position` is extrapolated from the last poll at the speed measured between polls (capped at the target
 * and at 1 s past the poll); when idle it is the last polled position.
 *
 * `connected()` is false while the link is down or the controller does not answer, and until `init()` (GV, GP, GH,
 * GD) has run again after it came back; moves are refused meanwhile. */
export class MoonliteFocuser implements Focuser {
  readonly changed = new Signal<void>();
  readonly range: { min: number; max: number };
  readonly stepSize: number;
  /** What `init()` read from the controller. */
  firmware: { version: string; halfStep: boolean; stepDelay: number } | null = null;

  private readonly client: MoonliteClient;
  private readonly log: HalLog;
  private readonly name: string;
  private readonly pollMoving: number;
  private readonly pollIdle: number;
  private readonly temperatureMs: number;
  private readonly unsubscribe: () => void;

  private ready = false;
  private closed = false;
  /** Last polled counter and `GI` answer, and when they were read. */
  private step = 0;
  private deviceMoving = false;
  private polledAt = 0;
  private state: MotionStatus["state"] = "idle";
  private targetStep: number | null = null;
  private pending: PendingMove | null = null;
  private stopWaiters: (() => void)[] = [];
  private initWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Bumped by every motion command: a poll that began before one says nothing about its outcome. */
  private generation = 0;
  /** Polls that found the motor stopped short of the target: one may predate the motor starting, two do not. */
  private stoppedShort = 0;
  private nominalStepsS = 250;
  private measuredStepsS: number | null = null;
  private lastSample: { step: number; at: number; generation: number } | null = null;
  private temperatureC: number | null = null;
  private nextConversionAt = 0;
  private readAt: number | null = null;

  private timer: ReturnType<typeof setTimeout> | undefined;
  private cycling = false;
  private wakeAgain = false;

  constructor(
    private readonly link: ByteDuplex,
    private readonly opts: MoonliteFocuserOptions,
  ) {
    if (!(opts.stepUm > 0)) throw new RangeError("stepUm must be positive");
    this.range = { min: opts.minUm, max: opts.maxUm };
    this.stepSize = opts.stepUm;
    this.log = opts.log ?? silentLog;
    this.name = opts.name ?? "focuser";
    this.pollMoving = opts.pollMs?.moving ?? 100;
    this.pollIdle = opts.pollMs?.idle ?? 1000;
    this.temperatureMs = opts.temperatureMs ?? 10_000;
    this.client = new MoonliteClient(link, { timeoutMs: opts.timeoutMs, retries: opts.retries, log: this.log, name: this.name });
    this.unsubscribe = link.connection.on((up) => {
      if (up) this.wake();
      else this.goOffline("focuser disconnected");
    });
    this.wake();
  }

  status(): MotionStatus {
    const moving = this.state === "moving" && this.targetStep !== null;
    const speed = this.measuredStepsS ?? this.nominalStepsS;
    const dir = moving ? Math.sign(this.targetStep! - this.step) : 0;
    let step = this.step;
    if (dir !== 0) {
      const elapsed = Math.min(performance.now() - this.polledAt, MAX_EXTRAPOLATION_MS);
      const ahead = Math.min(Math.abs(this.targetStep! - this.step), Math.round((speed * elapsed) / 1000));
      step += dir * ahead;
    }
    return {
      position: step * this.stepSize,
      target: moving ? this.targetStep! * this.stepSize : null,
      state: this.state,
      rate: dir * speed * this.stepSize,
    };
  }

  connected(): boolean {
    return this.ready && this.link.connected;
  }

  temperature(): number | null {
    return this.temperatureC;
  }

  moveTo(position: number): Promise<MoveOutcome> {
    if (!this.connected()) return Promise.reject(this.disconnectedError());
    const step = Math.round(position / this.stepSize);
    if (!(position >= this.range.min && position <= this.range.max)) {
      return Promise.reject(
        new DeviceError("range", this.name, `focuser position ${position} µm is outside ${this.range.min}..${this.range.max} µm`, {
          position,
          min: this.range.min,
          max: this.range.max,
        }),
      );
    }
    if (step < 0 || step > 0xffff) {
      return Promise.reject(
        new DeviceError("range", this.name, `focuser position ${position} µm is step ${step}, beyond the controller's 16-bit counter`, {
          position,
          step,
        }),
      );
    }
    this.settle({ arrived: false, reason: "superseded by a new move" });
    this.releaseStopWaiters();
    if (this.state === "idle" && !this.deviceMoving && step === this.step) return Promise.resolve({ arrived: true });

    const commands = this.deviceMoving || this.state !== "idle" ? ["FQ"] : [];
    commands.push(`SN${encodePosition(step)}`, "FG");
    this.generation++;
    this.stoppedShort = 0;
    this.state = "moving";
    this.targetStep = step;
    this.polledAt = performance.now();
    const outcome = new Promise<MoveOutcome>((resolve) => {
      this.pending = { step, resolve };
    });
    for (const c of commands) this.client.send(c).catch((e) => this.fail(e));
    this.changed.emit();
    this.wake();
    return outcome;
  }

  stop(reason = "stop requested"): Promise<void> {
    this.settle({ arrived: false, reason });
    if (!this.connected()) return Promise.resolve();
    this.generation++;
    this.state = "stopping";
    this.targetStep = null;
    const stopped = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    this.client.send("FQ").catch((e) => this.fail(e));
    this.changed.emit();
    this.wake();
    return stopped;
  }

  /** Stops polling and releases the link (which stays open: it belongs to the caller). */
  close(): void {
    if (this.closed) return;
    this.goOffline("focuser closed");
    this.settleInit(this.disconnectedError());
    this.closed = true;
    clearTimeout(this.timer);
    this.unsubscribe();
    this.client.close();
  }

  /** Resolves once the controller has been read (`GV`, `GP`, `GH`, `GD`) and the focuser is ready; rejects with the
   * error of the attempt that failed (it is retried every idle poll period, and again after every reconnect). */
  init(): Promise<void> {
    if (this.connected()) return Promise.resolve();
    if (this.closed || !this.link.connected) return Promise.reject(this.disconnectedError());
    const done = new Promise<void>((resolve, reject) => this.initWaiters.push({ resolve, reject }));
    this.wake();
    return done;
  }

  /** Reads what the controller is set to and where it stands. */
  private async initialise(): Promise<void> {
    const version = await this.client.query("GV");
    const step = decodePosition(await this.client.query("GP"));
    const halfStep = decodeHalfStep(await this.client.query("GH"));
    const stepDelay = decodeHex(await this.client.query("GD"), 2);
    this.firmware = { version, halfStep, stepDelay };
    this.nominalStepsS = this.opts.speedUmS ? this.opts.speedUmS / this.stepSize : stepsPerSecond(stepDelay);
    this.measuredStepsS = null;
    this.lastSample = null;
    this.step = step;
    this.polledAt = performance.now();
    this.nextConversionAt = 0;
    this.readAt = null;
    this.ready = true;
    this.log.info({ device: this.name, version, step, halfStep, stepDelay }, "moonlite: focuser ready");
    this.changed.emit();
  }

  private async poll(): Promise<void> {
    const generation = this.generation;
    const moving = decodeMoving(await this.client.query("GI"));
    const step = decodePosition(await this.client.query("GP"));
    const at = performance.now();
    this.measureSpeed(step, at, moving, generation);
    const changed = step !== this.step || moving !== this.deviceMoving;
    this.step = step;
    this.deviceMoving = moving;
    this.polledAt = at;
    if (generation === this.generation) this.judge();
    if (changed) this.changed.emit();
    await this.pollTemperature();
  }

  /** Decides, from a poll that began after the last motion command, whether that command has completed. */
  private judge(): void {
    const moving = this.deviceMoving;
    if (this.state === "stopping") {
      if (!moving) this.becomeIdle();
      return;
    }
    if (this.state === "idle") {
      // Moved by something else (a hand controller): show it, with no target of ours.
      if (moving) {
        this.state = "moving";
        this.changed.emit();
      }
      return;
    }
    if (moving) {
      this.stoppedShort = 0;
      return;
    }
    const pending = this.pending;
    if (!pending) return this.becomeIdle();
    if (this.step === pending.step) {
      this.becomeIdle();
      this.settle({ arrived: true });
    } else if (++this.stoppedShort >= 2) {
      this.becomeIdle();
      this.settle({
        arrived: false,
        reason: `focuser stopped at ${this.step * this.stepSize} µm, short of its target ${pending.step * this.stepSize} µm`,
      });
    }
  }

  private measureSpeed(step: number, at: number, moving: boolean, generation: number): void {
    const last = this.lastSample;
    this.lastSample = moving ? { step, at, generation } : null;
    if (!moving || !last || last.generation !== generation || at <= last.at || step === last.step) return;
    const v = (Math.abs(step - last.step) * 1000) / (at - last.at);
    this.measuredStepsS = this.measuredStepsS === null ? v : (this.measuredStepsS + v) / 2;
  }

  private async pollTemperature(): Promise<void> {
    const now = performance.now();
    if (this.readAt !== null && now >= this.readAt) {
      this.readAt = null;
      const t = decodeTemperature(await this.client.query("GT"));
      if (t !== this.temperatureC) {
        this.temperatureC = t;
        this.changed.emit();
      }
    } else if (this.readAt === null && now >= this.nextConversionAt) {
      this.nextConversionAt = now + this.temperatureMs;
      await this.client.send("C");
      this.readAt = performance.now() + CONVERSION_MS;
    }
  }

  /** Runs one init-or-poll cycle, then schedules the next; never two at once. */
  private wake(delayMs = 0): void {
    if (this.closed) return;
    if (this.cycling) {
      if (delayMs === 0) this.wakeAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // cycle() handles the device's failures itself: a rejection here is a fault of the driver, and the polling
      // must go on (a focuser nobody polls reports stale positions forever).
      this.cycle().catch((err: unknown) => {
        this.cycling = false;
        this.log.error({ device: this.name, err: String(err) }, "focuser driver cycle failed");
        this.wake(this.pollIdle);
      });
    }, delayMs);
  }

  private async cycle(): Promise<void> {
    if (!this.link.connected || this.closed) return;
    this.cycling = true;
    this.wakeAgain = false;
    let next = this.pollIdle;
    try {
      if (!this.ready) {
        try {
          await this.initialise();
        } catch (e) {
          this.settleInit(e);
          throw e;
        }
        this.settleInit(null);
      }
      await this.poll();
      if (this.state !== "idle" || this.pending) next = this.pollMoving;
    } catch (e) {
      this.fail(e);
    } finally {
      this.cycling = false;
    }
    this.wake(this.wakeAgain ? 0 : next);
  }

  private settleInit(error: unknown): void {
    for (const w of this.initWaiters.splice(0)) {
      if (error === null) w.resolve();
      else w.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    if (e instanceof DeviceError && e.kind === "disconnected") return this.goOffline("focuser disconnected");
    const message = e instanceof Error ? e.message : String(e);
    if (this.ready) this.log.error({ device: this.name, error: message }, "moonlite: focuser not answering");
    this.goOffline("focuser not answering");
  }

  private goOffline(reason: string): void {
    if (!this.link.connected) this.settleInit(this.disconnectedError());
    const was = this.ready;
    this.ready = false;
    this.deviceMoving = false;
    this.lastSample = null;
    this.settle({ arrived: false, reason });
    this.becomeIdle();
    if (was) {
      this.log.warn({ device: this.name, reason }, "moonlite: focuser offline");
      this.changed.emit();
    }
  }

  private becomeIdle(): void {
    const was = this.state;
    this.state = "idle";
    this.targetStep = null;
    this.releaseStopWaiters();
    if (was !== "idle") this.changed.emit();
  }

  private releaseStopWaiters(): void {
    for (const w of this.stopWaiters.splice(0)) w();
  }

  private settle(outcome: MoveOutcome): void {
    const p = this.pending;
    this.pending = null;
    p?.resolve(outcome);
  }

  private disconnectedError(): DeviceError {
    return new DeviceError("disconnected", this.name, `${this.name} is disconnected`);
  }
}
