import { STATUS_BITS, type MotorStatus } from "../synta/codec";
import { hold, trapezoid, type Profile } from "./motion-profile";

export interface SyntaMotorConfig {
  cpr: number;
  timerFreq: number;
  highSpeedRatio: number;
  /** Goto cruise speed and acceleration, in steps. */
  slewStepsPerS: number;
  accelStepsPerS2: number;
  now: () => number;
  /** Called when the motor starts, stops or changes rate. */
  onMotion: () => void;
}

/** Why the board refuses a command: the `!code` it answers. */
export type MotorRefusal = "2" | "4";

const MAX_TIMER_MS = 2 ** 31 - 1;

/** From p0 at velocity v0, change speed at `accel` to v1, then keep v1 (for v1 = 0: stop there). Steps, ms, steps/s. */
function ramp(p0: number, v0: number, v1: number, accel: number, t0: number): Profile {
  const tr = Math.abs(v1 - v0) / accel;
  const a = Math.sign(v1 - v0) * accel;
  const pr = p0 + v0 * tr + 0.5 * a * tr * tr;
  return {
    end: v1 === 0 ? t0 + tr * 1000 : Infinity,
    endPosition: v1 === 0 ? pr : NaN,
    at(t) {
      const s = Math.max(0, (t - t0) / 1000);
      if (s < tr) return { p: p0 + v0 * s + 0.5 * a * s * s, v: v0 + a * s };
      return { p: pr + v1 * (s - tr), v: v1 };
    },
  };
}

/** One axis of the simulated motor controller: the status word, the registers the commands set, and analytic
 * motion (accelerating gotos that stop exactly on the target step, constant-rate slews from the step period,
 * decelerating and instant stops). Nothing ticks: positions are evaluated when asked, and a timer runs only while
 * a motion has a known end, to flip the status when it ends. */
export class SyntaMotor {
  initialized = false;
  slewMode = true;
  backward = false;
  highSpeed = false;
  /** Step period (`I`), in timer ticks. */
  period = 0x256;
  private increment = 1;
  private absoluteTarget: number | null = null;
  /** Brake point (`M`/`U`): accepted for the wire's sake; this motor brakes at its own deceleration instead. */
  brake = 400;
  private running = false;
  /** A goto under way (not yet arrived nor stopped). */
  private goingTo = false;
  private profile: Profile = hold(0);
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly cfg: SyntaMotorConfig) {}

  /** Signed step count (0 = the wire's 0x800000). */
  steps(): number {
    return Math.round(this.profile.at(this.cfg.now()).p);
  }

  /** Current speed in steps/s (signed). */
  velocity(): number {
    this.settle();
    return this.running ? this.profile.at(this.cfg.now()).v : 0;
  }

  isRunning(): boolean {
    this.settle();
    return this.running;
  }

  status(): MotorStatus {
    this.settle();
    return {
      running: this.running,
      blocked: false,
      slewMode: this.slewMode,
      backward: this.backward,
      highSpeed: this.highSpeed,
      initialized: this.initialized,
    };
  }

  statusWord(): number {
    const s = this.status();
    let n = 0;
    for (const [k, bit] of Object.entries(STATUS_BITS)) if (s[k as keyof MotorStatus]) n |= bit;
    return n;
  }

  /** `E`. */
  setPosition(steps: number): MotorRefusal | null {
    if (this.isRunning()) return "2";
    this.profile = hold(steps, this.cfg.now());
    return null;
  }

  /** `G`: mode 0 goto fast, 1 slew slow, 2 goto slow, 3 slew fast; direction 0 forward, 1 backward. */
  setMotionMode(mode: number, backward: boolean): MotorRefusal | null {
    if (this.isRunning()) return "2";
    this.slewMode = mode === 1 || mode === 3;
    this.highSpeed = mode === 0 || mode === 3;
    this.backward = backward;
    return null;
  }

  /** `I`: a running slew changes speed (ramping at the motor's acceleration); a goto keeps its own speed. */
  setPeriod(period: number): void {
    this.period = Math.max(1, period);
    if (this.isRunning() && this.slewMode) this.follow(this.rampTo(this.slewVelocity()));
  }

  /** `H`. */
  setIncrement(steps: number): void {
    this.increment = steps;
    this.absoluteTarget = null;
  }

  /** `S` (a signed step count). */
  setTarget(steps: number): void {
    this.absoluteTarget = steps;
  }

  initialize(): void {
    this.initialized = true;
  }

  /** `J`. */
  start(): MotorRefusal | null {
    if (!this.initialized) return "4";
    if (this.isRunning()) return null;
    const t = this.cfg.now();
    const p = this.profile.at(t).p;
    if (this.slewMode) {
      this.running = true;
      this.follow(this.rampTo(this.slewVelocity()));
      return null;
    }
    const target = this.absoluteTarget ?? Math.round(p) + (this.backward ? -this.increment : this.increment);
    if (target === Math.round(p)) return null;
    const vmax = this.highSpeed ? this.cfg.slewStepsPerS : Math.min(this.cfg.slewStepsPerS, this.cfg.timerFreq / this.period);
    this.running = true;
    this.goingTo = true;
    this.follow(trapezoid(p, target, vmax, this.cfg.accelStepsPerS2, t));
    return null;
  }

  /** `K`: decelerates to a stop (still running until then). */
  stop(): void {
    if (!this.isRunning()) return;
    this.goingTo = false;
    this.follow(this.rampTo(0));
  }

  /** `L`: stops dead. */
  halt(): void {
    if (!this.isRunning()) return;
    const t = this.cfg.now();
    this.running = false;
    this.goingTo = false;
    this.follow(hold(this.profile.at(t).p, t));
  }

  private slewVelocity(): number {
    const v = Math.min((this.cfg.timerFreq / this.period) * (this.highSpeed ? this.cfg.highSpeedRatio : 1), this.cfg.slewStepsPerS);
    return this.backward ? -v : v;
  }

  private rampTo(v1: number): Profile {
    const t = this.cfg.now();
    const { p, v } = this.profile.at(t);
    return ramp(p, v, v1, this.cfg.accelStepsPerS2, t);
  }

  private follow(profile: Profile): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.profile = profile;
    if (this.running && Number.isFinite(profile.end)) {
      // Re-armed until due: a timer may fire a little before the clock reaches the end (or wait less than needed).
      const arm = () => {
        const delay = profile.end - this.cfg.now();
        if (delay <= 0) return this.settle();
        this.timer = setTimeout(arm, Math.min(Math.ceil(delay), MAX_TIMER_MS));
      };
      arm();
    }
    this.cfg.onMotion();
  }

  /** Ends a motion whose profile has run out (lazily, or from the timer). */
  private settle(): void {
    if (!this.running || this.cfg.now() < this.profile.end) return;
    const end = this.profile.end;
    const at = this.profile.endPosition;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = false;
    // As INDI's simulator does: a goto that arrives leaves the axis in slew mode.
    if (this.goingTo) this.slewMode = true;
    this.goingTo = false;
    this.profile = hold(Math.round(at), end);
    this.cfg.onMotion();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
