/** What the simulated sky holds: faint field stars that are the same whichever way the telescope points, plus the
 * tangent-plane maths a simulated camera needs to place them on its sensor. */

import { Rng } from "./star-field";

export type FieldStar = { ra_deg: number; dec_deg: number; mag: number };

const DEG = Math.PI / 180;

/** Magnitudes generated; fainter limits are clamped to MAG_FAINT so that a cell's content never depends on the
 * limit asked for (the same RNG stream is drawn either way). */
const MAG_BRIGHT = 8;
const MAG_FAINT = 15;
/** Cumulative counts N(<m) = N15 · 10^(SLOPE·(m − 15)) per deg²: roughly the counts at mid galactic latitude
 * (the real slope drifts from ~0.45 to ~0.35 over mags 8..15), with no Milky Way. */
const STARS_PER_DEG2_TO_MAG15 = 1000;
const COUNT_SLOPE = 0.4;
const CELL_DEG = 0.5;
const BANDS = Math.round(180 / CELL_DEG);
/** Keeps the field stars' random streams apart from any other user of Rng seeded with small integers. */
const SKY_SALT = 0x5eed5ca1;

const countFraction = Math.pow(10, COUNT_SLOPE * (MAG_BRIGHT - MAG_FAINT));
const starsPerDeg2 = STARS_PER_DEG2_TO_MAG15 * (1 - countFraction);

/** Cells along RA in a dec band, so that cells stay roughly 0.5° square away from the poles. */
function cellsInBand(band: number): number {
  const centreDec = -90 + (band + 0.5) * CELL_DEG;
  return Math.max(1, Math.round((360 / CELL_DEG) * Math.cos(centreDec * DEG)));
}

function cellStars(band: number, cell: number, cells: number): FieldStar[] {
  const decLo = -90 + band * CELL_DEG;
  const sinLo = Math.sin(decLo * DEG);
  const sinHi = Math.sin((decLo + CELL_DEG) * DEG);
  const width = 360 / cells;
  const areaDeg2 = ((sinHi - sinLo) * width) / DEG; // steradians (Δsinδ · Δα) converted to deg²
  const rng = new Rng(Math.imul(band, 4096) + cell + SKY_SALT);
  const count = Math.max(0, Math.round(rng.poisson(areaDeg2 * starsPerDeg2)));
  const stars: FieldStar[] = new Array(count);
  for (let s = 0; s < count; s++) {
    // Uniform in sin(dec) is uniform in area on the sphere.
    const ra_deg = (cell + rng.uniform()) * width;
    const dec_deg = Math.asin(sinLo + rng.uniform() * (sinHi - sinLo)) / DEG;
    const mag = MAG_FAINT + Math.log10(countFraction + rng.uniform() * (1 - countFraction)) / COUNT_SLOPE;
    stars[s] = { ra_deg, dec_deg, mag };
  }
  return stars;
}

/** Field stars within radius_deg of (ra_deg, dec_deg), brightest first. Deterministic: the sky is cut into fixed
 * ~0.5° cells each seeded by its own index, so overlapping pointings see identical stars. */
export function fieldStars(
  ra_deg: number,
  dec_deg: number,
  radius_deg: number,
  opts?: { limitingMag?: number },
): FieldStar[] {
  if (!(radius_deg > 0) || !Number.isFinite(ra_deg) || !Number.isFinite(dec_deg)) return [];
  const limit = Math.min(opts?.limitingMag ?? MAG_FAINT, MAG_FAINT);
  const radius = Math.min(radius_deg, 180);
  const cosRadius = Math.cos(radius * DEG);
  const sinDec0 = Math.sin(dec_deg * DEG);
  const cosDec0 = Math.cos(dec_deg * DEG);
  const decLo = Math.max(-90, dec_deg - radius);
  const decHi = Math.min(90, dec_deg + radius);
  // A small circle that avoids the poles spans exactly ±asin(sin r / cos δ0) in RA; one that holds a pole spans all.
  const coversPole = Math.abs(dec_deg) + radius >= 90;
  const halfRa = coversPole ? 180 : Math.asin(Math.sin(radius * DEG) / cosDec0) / DEG;

  const found: FieldStar[] = [];
  const bandLo = Math.max(0, Math.floor((decLo + 90) / CELL_DEG));
  const bandHi = Math.min(BANDS - 1, Math.floor((decHi + 90) / CELL_DEG));
  for (let band = bandLo; band <= bandHi; band++) {
    const cells = cellsInBand(band);
    const width = 360 / cells;
    let first = Math.floor((ra_deg - halfRa) / width);
    let last = Math.floor((ra_deg + halfRa) / width);
    if (last - first + 1 >= cells) {
      first = 0;
      last = cells - 1;
    }
    for (let j = first; j <= last; j++) {
      for (const star of cellStars(band, ((j % cells) + cells) % cells, cells)) {
        if (star.mag > limit) continue;
        const d = star.dec_deg * DEG;
        const cosDist = sinDec0 * Math.sin(d) + cosDec0 * Math.cos(d) * Math.cos((star.ra_deg - ra_deg) * DEG);
        if (cosDist >= cosRadius) found.push(star);
      }
    }
  }
  return found.sort((a, b) => a.mag - b.mag);
}

/** Standard coordinates (ξ, η) in radians of (ra, dec) on the plane tangent at (ra0, dec0), all inputs in degrees;
 * ξ grows to the east, η to the north. Null for points 90° or more from the tangent point, which do not project. */
export function gnomonicProject(ra0_deg: number, dec0_deg: number, ra_deg: number, dec_deg: number): { xi: number; eta: number } | null {
  const d0 = dec0_deg * DEG;
  const d = dec_deg * DEG;
  const da = (ra_deg - ra0_deg) * DEG;
  const cosC = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(da);
  if (!(cosC > 1e-12)) return null;
  return {
    xi: (Math.cos(d) * Math.sin(da)) / cosC,
    eta: (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(da)) / cosC,
  };
}

/** Inverse of gnomonicProject: (ξ, η) in radians back to RA in [0, 360) and dec, in degrees. */
export function gnomonicUnproject(ra0_deg: number, dec0_deg: number, xi: number, eta: number): { ra_deg: number; dec_deg: number } {
  const d0 = dec0_deg * DEG;
  const den = Math.cos(d0) - eta * Math.sin(d0);
  const ra = ra0_deg + Math.atan2(xi, den) / DEG;
  const dec = Math.atan2(Math.sin(d0) + eta * Math.cos(d0), Math.hypot(xi, den)) / DEG;
  return { ra_deg: ((ra % 360) + 360) % 360, dec_deg: dec };
}

/** Electrons collected from a star: zero point (electrons/s from a mag-0 star through the whole system at
 * throughput 1) scaled by magnitude, exposure and throughput (0..1: optics, filter, quantum efficiency). */
export function magToFlux(mag: number, exposure_s: number, throughput: number, zeroPointElectronsPerS = 1e8): number {
  return zeroPointElectronsPerS * Math.pow(10, -0.4 * mag) * exposure_s * throughput;
}
