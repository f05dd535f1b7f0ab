/** Plain spherical-angle helpers shared by the astro modules (degrees throughout). */

export const DEG = Math.PI / 180;
export const ARCSEC_PER_DEG = 3600;

/** Angle folded into [0, 360). */
export function norm360(deg: number): number {
  const r = deg % 360;
  // `r + 360` can round up to exactly 360 for tiny negative r, which would break the half-open range.
  return r < 0 ? (r + 360 === 360 ? 0 : r + 360) : r;
}

/** Angle folded into (-180, 180]. */
export function wrap180(deg: number): number {
  const r = norm360(deg);
  return r > 180 ? r - 360 : r;
}

/** Great-circle separation of two (lon, lat) points. Haversine form: stays accurate for the small separations
 * (arcseconds) the round-trip tests measure, where the plain cosine formula loses everything to rounding. */
export function separationDeg(lon1_deg: number, lat1_deg: number, lon2_deg: number, lat2_deg: number): number {
  const dLat = (lat2_deg - lat1_deg) * DEG;
  const dLon = (lon2_deg - lon1_deg) * DEG;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1_deg * DEG) * Math.cos(lat2_deg * DEG) * Math.sin(dLon / 2) ** 2;
  return (2 * Math.asin(Math.min(1, Math.sqrt(h)))) / DEG;
}
