import { Body, Equator } from "astronomy-engine";
import type { TargetPosition } from "../protocol/primitives";
import { findNamed } from "./catalog";
import { norm360, wrap180 } from "./angles";
import {
  apparentToHorizontal,
  apparentToJ2000,
  hourAngleDeg,
  horizontalToApparent,
  j2000ToApparent,
  type Equatorial,
} from "./coordinates";
import { observerOf, type Site } from "./site";

/** Turning a protocol TargetPosition into something a mount can point at and follow. */

export type SolarSystemBody = Extract<TargetPosition, { type: "solar_system" }>["body"];

const BODIES: readonly SolarSystemBody[] = ["Sun", "Moon", "Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto"];

/** Where the target appears at one instant: apparent (of-date) RA/Dec and observed (refracted) alt/az. */
export interface ApparentState {
  ra_app_deg: number;
  dec_app_deg: number;
  alt_deg: number;
  az_deg: number;
}

export interface Resolved extends ApparentState {
  /** Catalog name or body name; absent for bare coordinates. */
  name?: string;
  /** How the target moves, not how it was asked for: a named target resolves to "equatorial" (catalog object) or
   * "solar_system" (Sun, Moon, planets), so "named" never appears here. */
  kind: Exclude<TargetPosition["type"], "named">;
  body?: SolarSystemBody;
  /** J2000 position at resolve time: fixed for catalog/equatorial targets; for bodies the topocentric astrometric
   * position (light-time corrected, no aberration); for horizontal targets where that alt/az pointed. */
  ra_deg: number;
  dec_deg: number;
  /** The position to track at `date` (see README: fixed stars are re-apparent'd, bodies recomputed, horizontal
   * targets hold their alt/az). */
  at(date: Date): ApparentState;
}

/** Resolve a target for a site at a time. Never throws: bad input (unknown name, invalid date, out-of-range
 * numbers) comes back as `{ error }` with a message fit to show the user. */
export function resolveTarget(target: TargetPosition, date: Date, site: Site): Resolved | { error: string } {
  if (!Number.isFinite(date.getTime())) return { error: "invalid date" };
  try {
    observerOf(site);
  } catch (e) {
    return { error: `invalid site: ${String(e)}` };
  }
  try {
    switch (target.type) {
      case "equatorial":
        if (!(target.ra_deg >= 0 && target.ra_deg < 360 && Math.abs(target.dec_deg) <= 90))
          return { error: `equatorial target out of range: ra_deg must be in [0, 360), dec_deg in [-90, 90]` };
        return fixedStar(undefined, target.ra_deg, target.dec_deg, date, site);
      case "horizontal":
        if (!(Math.abs(target.alt_deg) <= 90 && target.az_deg >= 0 && target.az_deg < 360))
          return { error: `horizontal target out of range: alt_deg must be in [-90, 90], az_deg in [0, 360)` };
        return fixedAltAz(target.alt_deg, target.az_deg, date, site);
      case "solar_system":
        if (!BODIES.includes(target.body)) return { error: `unknown solar-system body "${String(target.body)}"` };
        return solarSystem(target.body, date, site);
      case "named":
        return named(target.name, date, site);
    }
  } catch (e) {
    // astronomy-engine reports failures by throwing strings, not Errors.
    return { error: `cannot compute position: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function named(name: string, date: Date, site: Site): Resolved | { error: string } {
  const key = name.trim().toLowerCase();
  const body = BODIES.find((b) => b.toLowerCase() === key);
  if (body) return solarSystem(body, date, site);
  const entry = findNamed(name);
  if (entry) return fixedStar(entry.name, entry.ra_deg, entry.dec_deg, date, site);
  return {
    error:
      `unknown target name "${name}": use a catalog name such as "M31", "NGC 224", "Vega" or "Orion Nebula", ` +
      `a solar-system body such as "Mars", or give coordinates as {"type":"equatorial","ra_deg":…,"dec_deg":…}`,
  };
}

function state(app: Equatorial, date: Date, site: Site): ApparentState {
  const hor = apparentToHorizontal(app.ra_deg, app.dec_deg, date, site);
  return { ra_app_deg: app.ra_deg, dec_app_deg: app.dec_deg, alt_deg: hor.alt_deg, az_deg: hor.az_deg };
}

function build(
  fields: Omit<Resolved, keyof ApparentState | "at">,
  at: (date: Date) => ApparentState,
  date: Date,
): Resolved {
  return { ...fields, ...at(date), at };
}

function fixedStar(name: string | undefined, ra_deg: number, dec_deg: number, date: Date, site: Site): Resolved {
  const at = (d: Date) => state(j2000ToApparent(ra_deg, dec_deg, d), d, site);
  return build({ name, kind: "equatorial", ra_deg, dec_deg }, at, date);
}

function solarSystem(body: SolarSystemBody, date: Date, site: Site): Resolved {
  const observer = observerOf(site);
  // Of-date, topocentric (parallax matters for the Moon), without annual aberration: fixed stars are handled without
  // it too, and aberration shifts stars and bodies alike, so leaving it out everywhere keeps a body where the
  // catalog stars around it are (and its pointing converts back to exactly its J2000 position).
  const at = (d: Date) => {
    const eq = Equator(Body[body], d, observer, true, false);
    return state({ ra_deg: norm360(eq.ra * 15), dec_deg: eq.dec }, d, site);
  };
  const j2000 = Equator(Body[body], date, observer, false, false);
  return build({ name: body, kind: "solar_system", body, ra_deg: norm360(j2000.ra * 15), dec_deg: j2000.dec }, at, date);
}

function fixedAltAz(alt_deg: number, az_deg: number, date: Date, site: Site): Resolved {
  // The alt/az is taken as observed (refracted), like every alt/az this module hands out, so feeding the returned
  // RA/Dec back through apparentToHorizontal reproduces it (to well under an arcsecond).
  const at = (d: Date): ApparentState => {
    const app = horizontalToApparent(alt_deg, az_deg, d, site);
    return { ra_app_deg: app.ra_deg, dec_app_deg: app.dec_deg, alt_deg, az_deg };
  };
  const now = at(date);
  const j2000 = apparentToJ2000(now.ra_app_deg, now.dec_app_deg, date);
  return { kind: "horizontal", ra_deg: j2000.ra_deg, dec_deg: j2000.dec_deg, ...now, at };
}

/** Finite-difference half-step: long enough that float noise in the coordinates (~1e-12°) is negligible against the
 * motion (~0.008° over the 2 s span), short enough that the Moon's changing rate is linear across it. */
const RATE_HALF_STEP_S = 1;

/** How fast the mount's hour-angle and declination axes must turn (deg/s) to follow the target at `date`.
 * A fixed star gives ≈ +SIDEREAL_RATE_DEG_S on HA and ~0 on Dec; a body's own RA motion is subtracted from the
 * HA rate; a horizontal target gives ~0 on both (a fixed alt/az is a fixed HA/Dec). Central difference of at(). */
export function trackingRates(resolved: Resolved, date: Date, site: Site): { ha_deg_s: number; dec_deg_s: number } {
  const t = date.getTime();
  const before = new Date(t - RATE_HALF_STEP_S * 1000);
  const after = new Date(t + RATE_HALF_STEP_S * 1000);
  const a = resolved.at(before);
  const b = resolved.at(after);
  const dHa = wrap180(hourAngleDeg(b.ra_app_deg, after, site) - hourAngleDeg(a.ra_app_deg, before, site));
  return { ha_deg_s: dHa / (2 * RATE_HALF_STEP_S), dec_deg_s: (b.dec_app_deg - a.dec_app_deg) / (2 * RATE_HALF_STEP_S) };
}
