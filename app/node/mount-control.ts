import type { Logger } from "pino";
import type { Mount, MountAxis } from "../../hal/mount";
import { apparentToHorizontal, apparentToJ2000, localSiderealDeg } from "../astro/coordinates";
import { offsetAt, type OffsetPattern } from "../astro/patterns";
import type { Site } from "../astro/site";
import { resolveTarget, type Resolved } from "../astro/targets";
import type { TargetPosition } from "../protocol";
import { CommandFailure, Interrupted } from "./command-failure";

export interface MountLimits {
  horizon_deg: number;
  ha_limit_deg: number;
}

export interface Pointing {
  ra_deg: number;
  dec_deg: number;
  ra_app_deg: number;
  dec_app_deg: number;
  ha_deg: number;
  alt_deg: number;
  az_deg: number;
  lst_deg: number;
}

interface Tracking {
  target: Resolved;
  request: TargetPosition;
  pattern: OffsetPattern | null;
  started: number;
  /** Manual offsets (mount.offset_relative) in arcsec on the sky. */
  offset: { dx: number; dy: number };
}

const TRACK_PERIOD_MS = 1000;
/** Pointing is good enough when both axes are within this of the target (degrees). */
const SETTLED_DEG = 2 / 3600;
const MAX_PASSES = 6;

/** The equatorial mount driven in hour angle and declination: resolves targets for the site, checks the horizon
 * and hour-angle limits, slews (re-aiming until a moving target is caught), and tracks with a 1 Hz rate loop that
 * folds in offset patterns and manual offsets. */
export class MountControl {
  private tracking: Tracking | null = null;
  private loop: ReturnType<typeof setInterval> | undefined;
  private lastTarget: { request: TargetPosition; resolved: Resolved } | null = null;

  constructor(
    readonly mount: Mount,
    private readonly site: Site,
    private readonly limits: MountLimits,
    private readonly log: Logger,
  ) {}

  get axes(): [MountAxis, MountAxis] {
    return [this.mount.ra, this.mount.dec];
  }

  isTracking(): boolean {
    return this.tracking !== null;
  }

  isSlewing(): boolean {
    return this.axes.some((a) => a.status().state === "moving" || a.status().state === "stopping");
  }

  trackingInfo(): { target: string; pattern: string | null; offset_arcsec: { dx: number; dy: number } } | null {
    const t = this.tracking;
    return t ? { target: t.target.name ?? t.request.type, pattern: t.pattern?.type ?? null, offset_arcsec: { ...t.offset } } : null;
  }

  target(): { request: TargetPosition; resolved: Resolved } | null {
    return this.lastTarget;
  }

  pointing(date = new Date()): Pointing {
    const ha = this.mount.ra.status().position;
    const dec = this.mount.dec.status().position;
    const lst = localSiderealDeg(date, this.site);
    const raApp = norm360(lst - ha);
    const j2000 = apparentToJ2000(raApp, dec, date);
    const hor = apparentToHorizontal(raApp, dec, date, this.site);
    return { ra_deg: j2000.ra_deg, dec_deg: j2000.dec_deg, ra_app_deg: raApp, dec_app_deg: dec, ha_deg: ha, lst_deg: lst, ...hor };
  }

  /** Resolves a target and checks it against the limits now; throws `invalid` naming the limit it breaks. */
  resolve(target: TargetPosition, date = new Date()): Resolved {
    const r = resolveTarget(target, date, this.site);
    if ("error" in r) throw new CommandFailure("invalid", r.error);
    this.checkLimits(r.at(date), r.name ?? describe(target));
    return r;
  }

  hourAngleOf(raApp: number, date = new Date()): number {
    return haOf(raApp, date, this.site);
  }

  checkLimits(p: { ra_app_deg: number; alt_deg: number }, name: string, date = new Date()): void {
    if (p.alt_deg < this.limits.horizon_deg) {
      throw new CommandFailure("invalid", `${name} is at altitude ${p.alt_deg.toFixed(1)}°, below the horizon limit of ${this.limits.horizon_deg}°`, {
        alt_deg: round(p.alt_deg),
        horizon_deg: this.limits.horizon_deg,
      });
    }
    const ha = haOf(p.ra_app_deg, date, this.site);
    if (Math.abs(ha) > this.limits.ha_limit_deg) {
      throw new CommandFailure("invalid", `${name} is at hour angle ${ha.toFixed(1)}°, beyond the mount's ±${this.limits.ha_limit_deg}° limit`, {
        ha_deg: round(ha),
        ha_limit_deg: this.limits.ha_limit_deg,
      });
    }
  }

  /** Slews to where the target will be on arrival, re-aiming until within SETTLED_DEG (a moving target is caught
   * in two or three passes). `onStop` lets the caller register the cancel action. */
  async slew(target: Resolved, request: TargetPosition, onStop: (device: string, stop: () => Promise<void>) => void): Promise<void> {
    this.stopTracking();
    this.lastTarget = { request, resolved: target };
    onStop("mount", () => this.stop());
    // The first pass aims where the target will be after the cruise; each later pass is a short correction for the
    // sky's motion during the previous one, so the error shrinks geometrically (two or three passes).
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const now = Date.now();
      const aim = this.axisTarget(target, new Date(now));
      const eta = pass === 0 ? Math.max(this.cruiseTime(this.mount.ra, aim.ha), this.cruiseTime(this.mount.dec, aim.dec)) : 0;
      const at = eta > 0 ? this.axisTarget(target, new Date(now + eta * 1000)) : aim;
      if (Math.abs(at.ha) > this.limits.ha_limit_deg) {
        throw new CommandFailure("invalid", `the target would be beyond the ±${this.limits.ha_limit_deg}° hour-angle limit on arrival`);
      }
      if (Math.abs(at.ha - this.mount.ra.status().position) < SETTLED_DEG && Math.abs(at.dec - this.mount.dec.status().position) < SETTLED_DEG) {
        return;
      }
      // Refuse before either axis starts (a tripped limit, a lost link): one axis must not slew alone.
      this.mount.ra.checkMove(at.ha);
      this.mount.dec.checkMove(at.dec);
      const started = [this.mount.ra.moveTo(at.ha), this.mount.dec.moveTo(at.dec)];
      // One axis stopped short (a limit switch's halt, a refused start, a lost link): the other stops at once
      // rather than finish the slew alone.
      const stopBoth = () => this.stop().catch((e: Error) => this.log.error({ err: e.message }, "stopping the mount failed"));
      for (const m of started) m.then((o) => (o.arrived ? undefined : stopBoth()), stopBoth);
      const moves = await Promise.allSettled(started);
      const failed = moves.find((m) => m.status === "rejected");
      if (failed) {
        await this.stop();
        throw failed.reason;
      }
      for (const m of moves) if (m.status === "fulfilled" && !m.value.arrived) throw new Interrupted(`slew stopped: ${m.value.reason}`);
    }
    this.log.warn("slew did not settle within the pass limit; tracking corrects the remainder");
  }

  /** Starts following the target (after a slew) at its rates, with an optional offset pattern. */
  startTracking(target: Resolved, request: TargetPosition, pattern: OffsetPattern | null): void {
    this.stopTracking();
    this.tracking = { target, request, pattern, started: Date.now(), offset: { dx: 0, dy: 0 } };
    this.lastTarget = { request, resolved: target };
    this.steer();
    this.loop = setInterval(() => this.steerOrStop(), TRACK_PERIOD_MS);
  }

  /** Shifts the tracked position (while tracking) or moves the axes by the offset (while still). */
  async offset(axis: "ra" | "dec" | "alt" | "az", arcsec: number, onStop: (device: string, stop: () => Promise<void>) => void): Promise<Pointing> {
    if (axis === "alt" || axis === "az") {
      throw new CommandFailure("invalid", `this mount is equatorial: offset axis must be ra or dec, not ${axis}`);
    }
    if (this.tracking) {
      if (axis === "ra") this.tracking.offset.dx += arcsec;
      else this.tracking.offset.dy += arcsec;
      this.steer();
      return this.pointing();
    }
    const dec = this.mount.dec.status().position;
    const deg = arcsec / 3600;
    const a = axis === "ra" ? this.mount.ra : this.mount.dec;
    // An RA offset on the sky is a larger hour-angle turn away from the equator; + RA is - hour angle.
    const delta = axis === "ra" ? -deg / Math.max(Math.cos((dec * Math.PI) / 180), 1e-3) : deg;
    const goal = a.status().position + delta;
    if (goal < a.range.min || goal > a.range.max) {
      throw new CommandFailure("invalid", `offset would take the ${axis} axis to ${goal.toFixed(4)}°, outside ${a.range.min}..${a.range.max}°`);
    }
    a.checkMove(goal);
    onStop("mount", () => a.stop());
    const o = await a.moveTo(goal);
    if (!o.arrived) throw new Interrupted(`offset stopped: ${o.reason}`);
    return this.pointing();
  }

  stopTracking(): void {
    clearInterval(this.loop);
    this.loop = undefined;
    this.tracking = null;
  }

  /** Stops both axes (decelerating); resolves once they are still. */
  async stop(): Promise<void> {
    this.stopTracking();
    await Promise.all(this.axes.map((a) => a.stop()));
  }

  /** The loop's tick: an axis that refuses the rate (a limit switch, a lost connection) ends tracking; the axes
   * are stopped rather than left turning at the last rate. */
  private steerOrStop(): void {
    try {
      this.steer();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "tracking stopped: the mount refused the tracking rate");
      this.stop().catch((e: Error) => this.log.error({ err: e.message }, "stopping the mount failed"));
    }
  }

  /** The rate loop: base rates from the target's motion plus a correction that closes the error in one period. */
  private steer(): void {
    const t = this.tracking;
    if (!t) return;
    const now = new Date();
    const aim = this.axisTarget(t.target, new Date(now.getTime() + TRACK_PERIOD_MS), t);
    // Follow the sky continuously: the hour angle nearest the axis, even past ±180°, until the software limit.
    aim.ha = nearestTurn(aim.ha, this.mount.ra.status().position);
    if (Math.abs(aim.ha) > this.limits.ha_limit_deg - 0.01) {
      this.log.warn({ ha_deg: round(aim.ha) }, "tracking reached the hour-angle limit: stopping");
      this.stop().catch((e: Error) => this.log.error({ err: e.message }, "stopping the mount failed"));
      return;
    }
    const period = TRACK_PERIOD_MS / 1000;
    const ha = this.mount.ra.status().position;
    const dec = this.mount.dec.status().position;
    // Aiming one period ahead folds the sky's (and a body's) motion, the pattern and the offsets into one rate.
    const haRate = (aim.ha - ha) / period;
    const decRate = (aim.dec - dec) / period;
    const cap = this.mount.ra.slewRate;
    this.mount.ra.track(clamp(haRate, cap));
    this.mount.dec.track(clamp(decRate, cap));
  }

  /** Axis angles (hour angle, declination) that put the target, plus pattern and offsets, on the optical axis. */
  private axisTarget(target: Resolved, date: Date, t?: Tracking): { ha: number; dec: number } {
    const p = target.at(date);
    let ra = p.ra_app_deg;
    let dec = p.dec_app_deg;
    if (t) {
      const pat = t.pattern ? offsetAt(t.pattern, (date.getTime() - t.started) / 1000) : { dx_arcsec: 0, dy_arcsec: 0 };
      const dx = (pat.dx_arcsec + t.offset.dx) / 3600;
      const dy = (pat.dy_arcsec + t.offset.dy) / 3600;
      dec = Math.max(-90, Math.min(90, dec + dy));
      ra += dx / Math.max(Math.cos((dec * Math.PI) / 180), 1e-3);
    }
    return { ha: haOf(ra, date, this.site), dec };
  }

  private cruiseTime(axis: MountAxis, goal: number): number {
    return Math.abs(goal - axis.status().position) / axis.slewRate;
  }
}

/** The representation of an hour angle (±360° turns) closest to where the axis stands. */
function nearestTurn(ha: number, axis: number): number {
  return ha + 360 * Math.round((axis - ha) / 360);
}

function haOf(raApp: number, date: Date, site: Site): number {
  let ha = localSiderealDeg(date, site) - raApp;
  ha = ((ha % 360) + 540) % 360 - 180;
  return ha;
}
const norm360 = (x: number) => ((x % 360) + 360) % 360;
const clamp = (x: number, cap: number) => Math.max(-cap, Math.min(cap, x));
const round = (x: number) => Math.round(x * 1000) / 1000;
function describe(t: TargetPosition): string {
  switch (t.type) {
    case "equatorial":
      return `RA ${t.ra_deg}° Dec ${t.dec_deg}°`;
    case "horizontal":
      return `Alt ${t.alt_deg}° Az ${t.az_deg}°`;
    case "solar_system":
      return t.body;
    case "named":
      return t.name;
  }
}
