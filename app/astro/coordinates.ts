import {
  EquatorFromVector,
  Horizon,
  InverseRefraction,
  MakeTime,
  RotateVector,
  Rotation_EQD_EQJ,
  Rotation_EQJ_EQD,
  Rotation_HOR_EQD,
  SiderealTime,
  Spherical,
  Vector,
  VectorFromSphere,
  type RotationMatrix,
} from "astronomy-engine";
import { DEG, norm360, wrap180 } from "./angles";
import { observerOf, type Site } from "./site";

/** Conversions between J2000, apparent (equator and equinox of date) and horizontal coordinates.
 *
 * "Apparent" here means precessed and nutated to the true equator/equinox of date; annual aberration and light
 * deflection are deliberately left out (≤ 20") because the mount's pointing model absorbs offsets of that size.
 * All angles are degrees, RA in [0, 360), azimuth from north through east, times are `Date`s (UTC ≈ UT1). */

export interface Equatorial {
  ra_deg: number;
  dec_deg: number;
}
export interface HorizontalPos {
  alt_deg: number;
  az_deg: number;
}

/** Earth's rotation rate against the stars: one sidereal day is 86164.0905 SI seconds. */
export const SIDEREAL_RATE_DEG_S = 360 / 86164.0905;

/** Greenwich apparent sidereal time, in degrees [0, 360). */
export function greenwichSiderealDeg(date: Date): number {
  return norm360(SiderealTime(date) * 15);
}

/** Local apparent sidereal time, in degrees [0, 360): the apparent RA on the site's meridian. */
export function localSiderealDeg(date: Date, site: Site): number {
  return norm360(greenwichSiderealDeg(date) + site.longitude_deg);
}

/** Hour angle (west positive) of an apparent RA, in (-180, 180]. */
export function hourAngleDeg(raApparent_deg: number, date: Date, site: Site): number {
  return wrap180(localSiderealDeg(date, site) - raApparent_deg);
}

function rotate(rotation: RotationMatrix, ra_deg: number, dec_deg: number, date: Date): Equatorial {
  const v = RotateVector(rotation, VectorFromSphere(new Spherical(dec_deg, ra_deg, 1), date));
  const eq = EquatorFromVector(v);
  return { ra_deg: norm360(eq.ra * 15), dec_deg: eq.dec };
}

/** J2000 (ICRS-aligned mean equator) → true equator and equinox of date: precession + nutation. */
export function j2000ToApparent(ra_deg: number, dec_deg: number, date: Date): Equatorial {
  return rotate(Rotation_EQJ_EQD(date), ra_deg, dec_deg, date);
}

/** Inverse of {@link j2000ToApparent}. */
export function apparentToJ2000(ra_deg: number, dec_deg: number, date: Date): Equatorial {
  return rotate(Rotation_EQD_EQJ(date), ra_deg, dec_deg, date);
}

/** Apparent RA/Dec → altitude/azimuth for the site. With `refraction` the altitude is the observed (lifted) one,
 * using astronomy-engine's "normal" model (Saemundsson, sea-level standard atmosphere). */
export function apparentToHorizontal(
  raApp_deg: number,
  decApp_deg: number,
  date: Date,
  site: Site,
  refraction = true,
): HorizontalPos {
  const hor = Horizon(date, observerOf(site), raApp_deg / 15, decApp_deg, refraction ? "normal" : undefined);
  return { alt_deg: hor.altitude, az_deg: norm360(hor.azimuth) };
}

/** Altitude/azimuth → apparent RA/Dec; the exact inverse of {@link apparentToHorizontal} (same refraction model,
 * undone by astronomy-engine's iterative InverseRefraction, so round trips agree to well under an arcsecond). */
export function horizontalToApparent(
  alt_deg: number,
  az_deg: number,
  date: Date,
  site: Site,
  refraction = true,
): Equatorial {
  const trueAlt = refraction ? alt_deg + InverseRefraction("normal", alt_deg) : alt_deg;
  const ca = Math.cos(trueAlt * DEG);
  // astronomy-engine's horizontal frame is x = north, y = west, z = zenith; azimuth runs north → east, so west is -sin.
  const time = MakeTime(date);
  const hor = new Vector(ca * Math.cos(az_deg * DEG), -ca * Math.sin(az_deg * DEG), Math.sin(trueAlt * DEG), time);
  const eq = EquatorFromVector(RotateVector(Rotation_HOR_EQD(time, observerOf(site)), hor));
  return { ra_deg: norm360(eq.ra * 15), dec_deg: eq.dec };
}

/** J2000 RA/Dec → observed altitude/azimuth. */
export function j2000ToHorizontal(ra_deg: number, dec_deg: number, date: Date, site: Site, refraction = true): HorizontalPos {
  const app = j2000ToApparent(ra_deg, dec_deg, date);
  return apparentToHorizontal(app.ra_deg, app.dec_deg, date, site, refraction);
}

/** Observed altitude/azimuth → J2000 RA/Dec. */
export function horizontalToJ2000(alt_deg: number, az_deg: number, date: Date, site: Site, refraction = true): Equatorial {
  const app = horizontalToApparent(alt_deg, az_deg, date, site, refraction);
  return apparentToJ2000(app.ra_deg, app.dec_deg, date);
}
