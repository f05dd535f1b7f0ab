import type { MotionStatus, MoveOutcome, Positioner } from "../motion";
import { Signal } from "../signal";
import { constantRate, decelerate, hold, trapezoid, type Profile } from "./motion-profile";

export interface SimPositionerOptions {
  position: number;
  min: number;
  max: number;
  /** Top speed (units/s) and acceleration (units/s²): a move takes the time the real device would. */
  speed: number;
  accel: number;
  /** Positions are reported in whole multiples of this (a motor step); 0 = continuous. */
  step?: number;
  now?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Pending {
  target: number;
  resolve: (o: MoveOutcome) => void;
}

/** A simulated single-axis positioner with a trapezoidal velocity profile, range limits, decelerating stops and
 * constant-rate motion that halts at the end of travel. */
export class SimPositioner implements Positioner {
  readonly changed = new Signal<void>();
  readonly range: { min: number; max: number };
  private profile: Profile;
  private mode: MotionStatus["state"] = "idle";
  private pending: Pending | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly stopWaiters: (() => void)[] = [];
  private readonly now: () => number;

  constructor(protected readonly opts: SimPositionerOptions) {
    this.range = { min: opts.min, max: opts.max };
    this.now = opts.now ?? Date.now;
    this.profile = hold(opts.position);
  }

  status(): MotionStatus {
    const { p, v } = this.profile.at(this.now());
    return {
      position: this.quantize(p),
      target: this.mode === "moving" ? this.pending?.target ?? null : null,
      state: this.mode,
      rate: v,
    };
  }

  moveTo(position: number): Promise<MoveOutcome> {
    if (!(position >= this.range.min && position <= this.range.max)) {
      return Promise.reject(new RangeError(`position ${position} is outside ${this.range.min}..${this.range.max}`));
    }
    const t = this.now();
    const from = this.profile.at(t).p;
    // Already there and still: nothing moves, so nothing to wait for (not even a timer tick).
    if (this.mode === "idle" && from === position) return Promise.resolve({ arrived: true });
    this.settle({ arrived: false, reason: "superseded by a new move" });
    this.begin(trapezoid(from, position, this.opts.speed, this.opts.accel, t), "moving");
    return new Promise((resolve) => {
      this.pending = { target: position, resolve };
    });
  }

  /** Constant-rate motion; it stops by itself at the end of travel rather than run into the hard stop. */
  protected runAt(rate: number): void {
    const t = this.now();
    const from = this.profile.at(t).p;
    this.settle({ arrived: false, reason: "superseded by constant-rate motion" });
    if (rate === 0) return this.begin(hold(from, t), "idle");
    const bound = rate > 0 ? this.range.max : this.range.min;
    const profile = constantRate(from, rate, t);
    this.begin(profile, "tracking", t + ((bound - from) / rate) * 1000, () => {
      this.begin(hold(bound, this.now()), "idle");
    });
  }

  stop(reason = "stop requested"): Promise<void> {
    this.settle({ arrived: false, reason });
    if (this.mode === "idle") return Promise.resolve();
    const t = this.now();
    const { p, v } = this.profile.at(t);
    if (this.mode !== "stopping") this.begin(decelerate(p, v, this.opts.accel, t), "stopping");
    return new Promise((resolve) => this.stopWaiters.push(resolve));
  }

  connected(): boolean {
    return true;
  }

  /** Holds where it is at once, no deceleration (what a motor controller's instant stop does). */
  protected haltNow(reason: string): void {
    this.settle({ arrived: false, reason });
    const t = this.now();
    this.begin(hold(this.profile.at(t).p, t), "idle");
  }

  private begin(profile: Profile, mode: MotionStatus["state"], endAt = profile.end, onEnd?: () => void): void {
    clearTimeout(this.timer);
    this.profile = profile;
    this.mode = mode;
    if (mode !== "idle") {
      const end = onEnd ?? (() => this.finish());
      // A slow constant rate can take longer to reach its end than a timer can wait (2^31 ms): re-arm until due.
      const arm = () => {
        const delay = endAt - this.now();
        if (delay > MAX_TIMER_MS) this.timer = setTimeout(arm, MAX_TIMER_MS);
        else this.timer = setTimeout(end, Math.max(0, delay));
      };
      if (Number.isFinite(endAt)) arm();
    } else {
      for (const w of this.stopWaiters.splice(0)) w();
    }
    this.changed.emit();
  }

  private finish(): void {
    this.begin(hold(this.profile.endPosition, this.now()), "idle");
    this.settle({ arrived: true });
  }

  private settle(outcome: MoveOutcome): void {
    const p = this.pending;
    this.pending = null;
    p?.resolve(outcome);
  }

  private quantize(p: number): number {
    const step = this.opts.step ?? 0;
    return step > 0 ? Math.round(p / step) * step : p;
  }
}
