import { DeviceError } from "../errors";
import { silentLog, type HalLog } from "../log";
import type { MotionStatus, MoveOutcome } from "../motion";
import type { LimitDirection, LimitReflex, MountAxis } from "../mount";
import { Signal } from "../signal";
import { SyntaCancelled, SyntaNoReply, type SyntaClient } from "./client";
import { latchKey } from "./motion-guard";
import {
  decodeFirmware,
  decodeHighSpeedRatio,
  decodePosition,
  decodeStatus,
  decodeU24,
  encodeCommand,
  encodeU24,
  POSITION_OFFSET,
  U24_MAX,
  type Firmware,
  type MotorStatus,
} from "./codec";

export interface SyntaAxisOptions {
  name: MountAxis["name"];
  /** The board's axis: "1" RA/Az, "2" Dec/Alt. */
  channel: "1" | "2";
  /** Axis angle at step 0 (0x800000 on the wire): where the board wakes up. */
  home_deg: number;
  min: number;
  max: number;
  /** The axis angle decreases as the step count increases. */
  reverse?: boolean;
  /** Top speed the SkyNode plans with (the board's own goto speed). */
  slewRateDegS: number;
  log?: HalLog;
  /** Poll period while moving or stopping, and while tracking or idle (which also keeps the link checked). */
  movingPollMs?: number;
  idlePollMs?: number;
  /** Retry period of a failed initialisation while the link is up. */
  reinitMs?: number;
}

const SIDEREAL_DEG_S = 360 / 86164.0989;
/** Above 128× sidereal the board slews in high-speed mode, the period then counting `g` steps per tick. */
const LOW_SPEED_MAX_DEG_S = 128 * SIDEREAL_DEG_S;
const MIN_PERIOD = 6;
/** INDI's goto rules: high speed beyond 20,000 steps at the minimum period, else low speed at period 18; brake
 * 3200 (fast) or 200 (slow) steps before the target, at most a tenth of the way. */
const LOW_SPEED_GOTO_MAX_STEPS = 20_000;
const LOW_SPEED_GOTO_PERIOD = 18;
/** A move has arrived when the axis stopped this close to the target. */
const ARRIVED_STEPS = 2;
/** A motor read as still, where it was, this soon after `J` may not have started yet: no verdict until later. */
const START_GRACE_MS = 500;

interface Geometry {
  cpr: number;
  timerFreq: number;
  highSpeedRatio: number;
  firmware: Firmware;
}

/** What the SkyNode asked for last; one reconciler brings the board there. */
type Intent = { kind: "stop" } | { kind: "halt" } | { kind: "move"; targetSteps: number } | { kind: "track"; rate: number };

interface Pending {
  target: number;
  resolve: (o: MoveOutcome) => void;
  reject: (e: DeviceError) => void;
}

/** Where the axis was at a known instant and how fast it was going there: status() extrapolates from it. */
interface Anchor {
  steps: number;
  at: number;
  /** steps/s, signed */
  v: number;
}

/** What the driver believes the motor is doing: the last status read, updated by each command sent since. */
interface BoardModel {
  running: boolean;
  slewMode: boolean;
  backward: boolean;
  highSpeed: boolean;
  /** A decelerating stop (`K`) was sent and the motor has not yet been seen still. */
  braking: boolean;
  period: number | null;
}

interface SlewPlan {
  highSpeed: boolean;
  backward: boolean;
  period: number;
  /** The speed that period really gives, signed (steps/s). */
  stepsPerS: number;
}

const now = () => performance.now();

/** One mount axis on a Sky-Watcher/Synta motor controller (MountAxis over the shared SyntaClient). Angles are
 * `home_deg ± (steps − 0x800000)·360/CPR`. Gotos use the relative increment (`H`) as INDI does, which every
 * firmware knows; it is computed from a position read after the motor is confirmed still, so it cannot drift
 * before `J`, and arrival is checked against the absolute target step. */
export class SyntaAxis implements MountAxis {
  readonly changed = new Signal<void>();
  readonly name: MountAxis["name"];
  readonly range: { min: number; max: number };
  readonly slewRate: number;
  /** "mount ra axis": names the axis in errors and logs. */
  readonly device: string;
  /** The last error the reconciler met (cleared by a good initialisation). */
  lastError: string | null = null;

  private readonly ch: "1" | "2";
  private readonly sign: 1 | -1;
  private readonly home: number;
  private readonly log: HalLog;
  private readonly movingPollMs: number;
  private readonly idlePollMs: number;
  private readonly reinitMs: number;
  private geometry: Geometry | null = null;
  private ready = false;
  private started = false;
  private closed = false;
  /** Bumped whenever contact is lost or regained: a worker of an older session stops at its next step. */
  private session = 0;
  private initRun: Promise<void> | null = null;
  private reinitTimer: ReturnType<typeof setTimeout> | undefined;
  private board: BoardModel = { running: false, slewMode: true, backward: false, highSpeed: false, braking: false, period: null };
  private anchor: Anchor = { steps: 0, at: now(), v: 0 };
  private intent: Intent = { kind: "stop" };
  /** Generation of `intent`; `applied` is the generation the reconciler finished applying. */
  private gen = 0;
  private applied = -1;
  private mode: MotionStatus["state"] = "idle";
  private pending: Pending | null = null;
  private stopWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Slew speed the board was last given (steps/s, signed; 0 when not slewing). */
  private slewSteps = 0;
  /** Where and when the motor was last started (`J` acknowledged). */
  private lastStart: { steps: number; at: number } | null = null;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly client: SyntaClient,
    opts: SyntaAxisOptions,
  ) {
    this.name = opts.name;
    this.ch = opts.channel;
    this.sign = opts.reverse ? -1 : 1;
    this.home = opts.home_deg;
    this.range = { min: opts.min, max: opts.max };
    this.slewRate = opts.slewRateDegS;
    this.log = opts.log ?? silentLog;
    this.movingPollMs = opts.movingPollMs ?? 100;
    this.idlePollMs = opts.idlePollMs ?? 1000;
    this.reinitMs = opts.reinitMs ?? 2000;
    this.device = `mount ${opts.name} axis`;
    client.motionGuard.describe(this.ch, { name: this.name, device: this.device, reverse: this.sign === -1 });
    this.unsubscribe = client.connection.on((up) => {
      if (up) {
        if (this.started && !this.closed) this.startInit().catch(() => {});
      } else {
        clearTimeout(this.reinitTimer);
        this.lose("mount disconnected");
      }
    });
  }

  /** Reads the board's geometry and energises the motor; from then on the axis re-initialises by itself after every
   * reconnect. Rejects if this attempt fails (it keeps retrying in the background while the link is up). */
  init(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    this.started = true;
    if (this.ready) return Promise.resolve();
    if (!this.client.connected) return Promise.reject(this.disconnectedError());
    return this.startInit();
  }

  connected(): boolean {
    return this.ready && this.client.connected;
  }

  limit(): LimitDirection | null {
    return null;
  }

  status(): MotionStatus {
    const g = this.geometry;
    const steps = this.extrapolate(now());
    return {
      position: this.toDeg(steps),
      target: this.mode === "moving" ? (this.pending?.target ?? null) : null,
      state: this.mode,
      rate: g && this.mode !== "idle" ? (this.sign * this.anchor.v * 360) / g.cpr : 0,
    };
  }

  checkMove(position: number): void {
    if (!(position >= this.range.min && position <= this.range.max)) {
      throw new DeviceError("range", this.device, `the ${this.name} axis cannot go to ${position}°: its range is ${this.range.min}..${this.range.max}°`, {
        position,
        ...this.range,
      });
    }
    if (!this.connected()) throw this.disconnectedError();
    if (Math.abs(this.toSteps(position)) >= POSITION_OFFSET) {
      throw new DeviceError("range", this.device, `the ${this.name} axis cannot go to ${position}°: beyond the motor controller's step counter`);
    }
  }

  moveTo(position: number): Promise<MoveOutcome> {
    try {
      this.checkMove(position);
    } catch (err) {
      return Promise.reject(err);
    }
    const targetSteps = this.toSteps(position);
    if (this.mode === "idle" && this.applied === this.gen && !this.board.running && this.anchor.steps === targetSteps) {
      return Promise.resolve({ arrived: true });
    }
    this.settle({ arrived: false, reason: "superseded by a new move" });
    this.releaseStopWaiters();
    this.want({ kind: "move", targetSteps }, "moving");
    return new Promise((resolve, reject) => {
      this.pending = { target: position, resolve, reject };
    });
  }

  track(rate_deg_s: number): void {
    if (!this.connected()) throw this.disconnectedError();
    if (!Number.isFinite(rate_deg_s)) throw new DeviceError("range", this.device, `${this.device}: rate ${rate_deg_s} is not a number`);
    if (this.intent.kind === "track" && this.intent.rate === rate_deg_s) return;
    this.settle({ arrived: false, reason: "superseded by constant-rate motion" });
    this.releaseStopWaiters();
    this.want({ kind: "track", rate: rate_deg_s }, rate_deg_s !== 0 ? "tracking" : this.board.running ? "stopping" : "idle");
  }

  stop(reason = "stop requested"): Promise<void> {
    this.settle({ arrived: false, reason });
    const still = this.intent.kind === "stop" || this.intent.kind === "halt";
    if (still && this.mode === "idle") return Promise.resolve();
    if (!this.connected()) return Promise.reject(this.disconnectedError());
    if (!still) this.want({ kind: "stop" }, "stopping");
    return new Promise((resolve, reject) => this.stopWaiters.push({ resolve, reject }));
  }

  halt(reason: string): void {
    if (this.client.connected) {
      try {
        this.client.urgent("L", this.ch).catch((err) => this.log.warn({ device: this.device, err: String(err) }, "instant stop not confirmed"));
      } catch (err) {
        this.log.error({ device: this.device, err: String(err) }, "instant stop could not be sent");
      }
    }
    this.settle({ arrived: false, reason });
    this.freeze();
    this.board.running = false;
    this.board.braking = false;
    this.slewSteps = 0;
    this.want({ kind: "halt" }, this.ready ? "stopping" : this.mode);
  }

  stopReflex(direction: LimitDirection, switchName: string): LimitReflex | null {
    const wire = this.client.link.wire;
    if (!wire) return null;
    // The angle grows with the step count (forward) unless the axis is reversed.
    const backward = (direction === "positive") === (this.sign === -1);
    return { wire, bytes: encodeCommand("L", this.ch), latch: wire.latch(latchKey(this.ch, backward), switchName) };
  }

  /** Stops polling and answers everything outstanding; the link and client belong to the caller. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    this.session++;
    clearTimeout(this.reinitTimer);
    this.unsubscribe();
    this.wake?.();
    this.settle({ arrived: false, reason: "mount driver closed" });
    this.releaseStopWaiters();
  }

  // ---- intents ----

  private want(intent: Intent, mode: MotionStatus["state"]): void {
    const before = this.mode;
    this.intent = intent;
    this.gen++;
    this.setMode(mode);
    this.wake?.();
    if (before === mode) this.changed.emit();
  }

  private setMode(mode: MotionStatus["state"]): void {
    if (mode === this.mode) return;
    this.mode = mode;
    if (mode === "idle") this.releaseStopWaiters();
    this.changed.emit();
  }

  private settle(outcome: MoveOutcome): void {
    const p = this.pending;
    this.pending = null;
    p?.resolve(outcome);
  }

  /** The move was refused rather than interrupted (the line would not start it into a tripped limit switch): its
   * caller gets the refusal itself, as from checkMove. */
  private refuse(err: DeviceError): void {
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  private releaseStopWaiters(): void {
    for (const w of this.stopWaiters.splice(0)) w.resolve();
  }

  // ---- connection ----

  private startInit(): Promise<void> {
    clearTimeout(this.reinitTimer);
    this.initRun ??= this.initialise().then(
      () => {
        this.initRun = null;
      },
      (err: unknown) => {
        this.initRun = null;
        this.log.warn({ device: this.device, err: String(err) }, "motor controller initialisation failed");
        this.scheduleReinit();
        throw err;
      },
    );
    return this.initRun;
  }

  private scheduleReinit(): void {
    clearTimeout(this.reinitTimer);
    if (this.closed || !this.started || !this.client.connected) return;
    this.reinitTimer = setTimeout(() => this.startInit().catch(() => {}), this.reinitMs);
  }

  private async initialise(): Promise<void> {
    const ask = async (cmd: string) => this.client.request(cmd, this.ch);
    const firmware = decodeFirmware(await ask("e"));
    const cpr = decodeU24(await ask("a"));
    const timerFreq = decodeU24(await ask("b"));
    const highSpeedRatio = decodeHighSpeedRatio(await ask("g"));
    if (cpr === 0 || timerFreq === 0 || highSpeedRatio === 0) {
      throw new DeviceError("fault", this.device, `${this.device}: the motor controller reports CPR ${cpr}, timer ${timerFreq} Hz, ratio ${highSpeedRatio}`);
    }
    let status = decodeStatus(await ask("f"));
    if (!status.initialized) {
      await ask("F");
      status = decodeStatus(await ask("f"));
    }
    const steps = decodePosition(await ask("j"));
    if (this.closed) return;
    if (!this.client.connected) throw this.disconnectedError();
    this.geometry = { cpr, timerFreq, highSpeedRatio, firmware };
    this.absorb(status);
    this.slewSteps = 0;
    this.anchor = { steps, at: now(), v: 0 };
    this.lastError = null;
    // Whatever the board was doing while unsupervised is stopped: the SkyNode re-commands what it wants.
    this.intent = { kind: "stop" };
    this.gen++;
    this.ready = true;
    const session = ++this.session;
    this.log.info(
      { device: this.device, firmware: `${firmware.major}.${firmware.minor.toString().padStart(2, "0")}`, mount: firmware.mount, cpr, timerFreq, highSpeedRatio, steps },
      "motor controller axis ready",
    );
    this.changed.emit();
    // run() handles the board's failures itself: a rejection is a fault of the driver. The axis must not be left
    // looking ready with no worker applying its intents: it is lost, and initialised again.
    this.run(session).catch((err: unknown) => {
      this.log.error({ device: this.device, err: String(err) }, "mount axis worker failed");
      this.lose("mount driver fault");
      this.scheduleReinit();
    });
  }

  /** Contact lost: the move in progress ends, the state stays as last known, and moves are refused until re-init. */
  private lose(reason: string): void {
    const wasReady = this.ready;
    this.freeze();
    this.ready = false;
    this.session++;
    this.wake?.();
    this.settle({ arrived: false, reason });
    for (const w of this.stopWaiters.splice(0)) w.reject(this.disconnectedError());
    this.intent = { kind: "stop" };
    this.gen++;
    if (wasReady) this.log.warn({ device: this.device, reason }, "mount axis lost");
    this.changed.emit();
  }

  // ---- the reconciler ----

  /** One worker per session: applies the latest intent, otherwise polls. Every request of this axis comes from here
   * (except the instant stop), so commands never interleave. */
  private async run(session: number): Promise<void> {
    const live = () => this.session === session && !this.closed;
    while (live()) {
      let pause = 0;
      const gen = this.gen;
      try {
        if (this.applied !== this.gen) await this.apply();
        else {
          await this.poll();
          pause = this.pollInterval();
        }
      } catch (err) {
        if (!live()) return;
        if (err instanceof SyntaCancelled) continue;
        if (err instanceof SyntaNoReply) {
          this.lose("no reply from the motor controller");
          this.scheduleReinit();
          return;
        }
        if (err instanceof DeviceError && err.kind === "disconnected") return;
        this.lastError = err instanceof Error ? err.message : String(err);
        if (err instanceof DeviceError && err.kind === "limit") this.log.warn({ device: this.device, err: this.lastError }, "mount axis motion refused by a tripped limit switch");
        else this.log.error({ device: this.device, err: this.lastError }, "mount axis command failed");
        this.changed.emit();
        pause = this.movingPollMs;
      }
      // A new intent that arrived during the poll is applied at once.
      if (pause > 0 && live() && this.gen === gen) await this.sleep(pause);
    }
  }

  private pollInterval(): number {
    const fast = this.mode === "moving" || this.mode === "stopping" || (this.mode === "tracking" && this.board.highSpeed);
    return fast ? this.movingPollMs : this.idlePollMs;
  }

  private async apply(): Promise<void> {
    const gen = this.gen;
    const intent = this.intent;
    try {
      switch (intent.kind) {
        case "stop":
          await this.brakeIfRunning(gen);
          break;
        case "halt":
          // The instant stop went out when halt() was called; the next poll confirms it.
          break;
        case "move":
          await this.goto(gen, intent.targetSteps);
          break;
        case "track":
          await this.slew(gen, intent.rate);
          break;
      }
      if (gen === this.gen) this.applied = gen;
    } catch (err) {
      if (err instanceof SyntaCancelled || gen !== this.gen || err instanceof SyntaNoReply) throw err;
      if (err instanceof DeviceError && err.kind === "disconnected") throw err;
      // Refused: give the intent up (a tracking loop asks again on its next tick) rather than retry in a tight loop.
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof DeviceError && err.kind === "limit") this.refuse(err);
      else this.settle({ arrived: false, reason: `move failed: ${message}` });
      this.intent = { kind: "stop" };
      this.applied = ++this.gen;
      this.setMode(this.board.running ? "stopping" : "idle");
      throw err;
    }
  }

  private async goto(gen: number, target: number): Promise<void> {
    // Still now, so the position just read (after the status) is where the increment starts from.
    if (!(await this.ensureStopped(gen))) return;
    const from = this.anchor.steps;
    const delta = target - from;
    this.lastStart = null;
    // Already there: nothing to send; the next poll sees the motor still on the target and resolves the move.
    if (delta === 0) return;
    const distance = Math.abs(delta);
    const fast = distance > LOW_SPEED_GOTO_MAX_STEPS;
    const backward = delta < 0;
    const period = fast ? MIN_PERIOD : LOW_SPEED_GOTO_PERIOD;
    await this.step(gen, "G", `${fast ? 0 : 2}${backward ? 1 : 0}`, () => Object.assign(this.board, { slewMode: false, highSpeed: fast, backward }));
    await this.step(gen, "I", encodeU24(period), () => (this.board.period = period));
    await this.step(gen, "H", encodeU24(distance));
    await this.step(gen, "M", encodeU24(Math.min(fast ? 3200 : 200, Math.floor(distance / 10))));
    await this.step(gen, "J", "", () => {
      this.board.running = true;
      this.slewSteps = 0;
      this.lastStart = { steps: from, at: now() };
    });
  }

  private async slew(gen: number, rate: number): Promise<void> {
    const plan = this.plan(rate);
    if (!plan) return this.brakeIfRunning(gen);
    const b = this.board;
    // Same direction, low speed, already slewing: a new period is enough (INDI will not re-time a running
    // high-speed slew, so that one restarts like a direction change).
    if (b.running && !b.braking && b.slewMode && !b.highSpeed && !plan.highSpeed && b.backward === plan.backward) {
      if (b.period !== plan.period) {
        await this.step(gen, "I", encodeU24(plan.period), () => {
          b.period = plan.period;
          this.reanchor(plan.stepsPerS);
        });
      }
      return;
    }
    if (!(await this.ensureStopped(gen))) return;
    await this.step(gen, "G", `${plan.highSpeed ? 3 : 1}${plan.backward ? 1 : 0}`, () =>
      Object.assign(b, { slewMode: true, highSpeed: plan.highSpeed, backward: plan.backward }),
    );
    await this.step(gen, "I", encodeU24(plan.period), () => (b.period = plan.period));
    const from = this.anchor.steps;
    await this.step(gen, "J", "", () => {
      b.running = true;
      this.reanchor(plan.stepsPerS);
      this.lastStart = { steps: from, at: now() };
    });
  }

  /** Step period for a rate: I = b·360/(CPR·|rate|), in high-speed mode × g; null = too slow to move (stop). */
  private plan(rate: number): SlewPlan | null {
    const g = this.geometry!;
    const abs = Math.abs(rate);
    if (abs === 0) return null;
    const highSpeed = abs > LOW_SPEED_MAX_DEG_S;
    const mul = highSpeed ? g.highSpeedRatio : 1;
    const exact = (g.timerFreq * 360 * mul) / (g.cpr * abs);
    if (exact > U24_MAX) return null;
    const period = Math.max(MIN_PERIOD, Math.round(exact));
    const backward = rate * this.sign < 0;
    const speed = (g.timerFreq / period) * mul;
    return { highSpeed, backward, period, stepsPerS: backward ? -speed : speed };
  }

  /** Decelerating stop, then polls every ~100 ms until the motor is still. False if a newer intent arrived (the
   * caller gives way to it). */
  private async ensureStopped(gen: number): Promise<boolean> {
    let braked = false;
    for (;;) {
      const st = await this.readState();
      if (!st.running) return gen === this.gen;
      if (gen !== this.gen) return false;
      if (!braked) {
        await this.brake();
        braked = true;
      }
      await this.sleep(this.movingPollMs);
    }
  }

  /** For a stop: reads the motor (the model may be a poll old) and brakes it if it runs. */
  private async brakeIfRunning(gen: number): Promise<void> {
    const st = await this.readState();
    this.checkCurrent(gen);
    if (st.running) {
      await this.brake();
      this.checkCurrent(gen);
    }
    this.setMode(st.running ? "stopping" : "idle");
  }

  private async brake(): Promise<void> {
    await this.ask("K");
    this.board.braking = true;
  }

  private async poll(): Promise<void> {
    const before = this.anchor.steps;
    const st = await this.readState();
    // A newer intent arrived while polling: this reading says nothing about it.
    if (this.applied !== this.gen) return;
    const intent = this.intent;
    const s = this.lastStart;
    if (!st.running && s && this.anchor.steps === s.steps && now() - s.at < START_GRACE_MS) {
      // Not started yet, or not for long enough to tell.
    } else if (intent.kind === "move") {
      if (!st.running) this.finishMove(intent.targetSteps);
    } else if (intent.kind === "track" && intent.rate !== 0) {
      // A rate too slow for the step timer leaves the motor still on purpose: that is tracking too.
      if (st.running || !this.plan(intent.rate)) this.setMode("tracking");
      else {
        this.log.warn({ device: this.device }, "the motor stopped while tracking: restarting it");
        // Re-applied after the poll pause: a board that keeps stopping is not hammered with restarts.
        this.applied = -1;
      }
    } else if (!st.running) {
      this.setMode("idle");
    } else if (intent.kind === "halt") {
      this.log.warn({ device: this.device }, "still moving after an instant stop: sending it again");
      this.client.urgent("L", this.ch).catch(() => {});
    } else if (this.mode === "idle") {
      this.log.warn({ device: this.device }, "the motor is moving although the driver stopped it: stopping it");
      this.gen++;
      this.setMode("stopping");
    }
    if (this.anchor.steps !== before) this.changed.emit();
  }

  private finishMove(target: number): void {
    const off = this.anchor.steps - target;
    let outcome: MoveOutcome = { arrived: true };
    if (Math.abs(off) > ARRIVED_STEPS) {
      const arcsec = (Math.abs(off) * 360 * 3600) / this.geometry!.cpr;
      const short = this.board.backward ? off > 0 : off < 0;
      outcome = {
        arrived: false,
        reason: `the axis stopped ${arcsec.toFixed(1)}″ (${Math.abs(off)} steps) ${short ? "short of" : "past"} the target`,
      };
    }
    this.intent = { kind: "stop" };
    this.applied = ++this.gen;
    this.setMode("idle");
    this.settle(outcome);
  }

  /** `f` then `j` (a motor seen still is read where it stopped), folded into the model and the anchor. */
  private async readState(): Promise<MotorStatus> {
    const st = decodeStatus(await this.ask("f"));
    const steps = decodePosition(await this.ask("j"));
    const at = now();
    if (!st.initialized) {
      this.lose("the motor controller was reset");
      this.startInit().catch(() => {});
      throw new Error("motor controller reset");
    }
    this.absorb(st);
    const prev = this.anchor;
    const dt = (at - prev.at) / 1000;
    let v = 0;
    if (st.running) {
      if (st.slewMode && !this.board.braking && this.slewSteps !== 0) v = this.slewSteps;
      else v = dt > 0.02 ? (steps - prev.steps) / dt : prev.v;
    }
    this.anchor = { steps, at, v };
    return st;
  }

  private absorb(st: MotorStatus): void {
    Object.assign(this.board, { running: st.running, slewMode: st.slewMode, backward: st.backward, highSpeed: st.highSpeed });
    if (!st.running) {
      this.board.braking = false;
      this.slewSteps = 0;
    }
  }

  // ---- requests ----

  private ask(cmd: string, data = ""): Promise<string> {
    return this.client.request(cmd, this.ch, data);
  }

  /** A command of the sequence applying intent `gen`: never written once a newer intent exists, and the sequence
   * stops after it if one arrived meanwhile. `done` records in the model what the board now does, even then. */
  private async step(gen: number, cmd: string, data = "", done?: () => void): Promise<string> {
    const reply = await this.client.request(cmd, this.ch, data, { wanted: () => this.gen === gen });
    done?.();
    this.checkCurrent(gen);
    return reply;
  }

  private checkCurrent(gen: number): void {
    if (gen !== this.gen) throw new SyntaCancelled(`${this.device} sequence`);
  }

  /** Waits `ms`, or less if a new intent arrives (want() wakes the worker). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  // ---- position ----

  private extrapolate(t: number): number {
    const a = this.anchor;
    if (a.v === 0 || this.mode === "idle" || !this.ready) return a.steps;
    const horizon = this.mode === "tracking" ? 3 * this.idlePollMs : 2 * this.movingPollMs;
    const s = a.steps + (a.v * Math.min(Math.max(0, t - a.at), horizon)) / 1000;
    const intent = this.intent;
    // Never show a goto beyond its target.
    if (this.mode === "moving" && intent.kind === "move" && (intent.targetSteps - a.steps) * a.v > 0) {
      return a.v > 0 ? Math.min(s, intent.targetSteps) : Math.max(s, intent.targetSteps);
    }
    return s;
  }

  /** Re-bases the extrapolation on a new speed from now on. */
  private reanchor(v: number): void {
    const t = now();
    this.anchor = { steps: this.extrapolate(t), at: t, v };
    this.slewSteps = v;
    this.changed.emit();
  }

  private freeze(): void {
    const t = now();
    this.anchor = { steps: this.extrapolate(t), at: t, v: 0 };
  }

  private toDeg(steps: number): number {
    const g = this.geometry;
    return g ? this.home + (this.sign * steps * 360) / g.cpr : this.home;
  }

  private toSteps(deg: number): number {
    return Math.round(((deg - this.home) * this.sign * this.geometry!.cpr) / 360);
  }

  private disconnectedError(): DeviceError {
    return new DeviceError("disconnected", this.device, `${this.device} is disconnected`);
  }

  private closedError(): DeviceError {
    return new DeviceError("disconnected", this.device, `${this.device}: driver closed`);
  }
}
