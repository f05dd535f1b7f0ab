/** Gnomonic (TAN) projection between the sky and the plane tangent at (ra0, dec0). These few lines mirror
 * hal/sim/sky-field.ts on purpose: app/ and hal/ may not import each other. Angles in degrees; standard coordinates
 * (ξ east, η north) in radians. */

const DEG = Math.PI / 180;

/** Null for points 90° or more from the tangent point: they have no image on the plane. */
export function tangentProject(ra0_deg: number, dec0_deg: number, ra_deg: number, dec_deg: number): { xi: number; eta: number } | null {
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

/** RA comes back in [0, 360). */
export function tangentUnproject(ra0_deg: number, dec0_deg: number, xi: number, eta: number): { ra_deg: number; dec_deg: number } {
  const d0 = dec0_deg * DEG;
  const den = Math.cos(d0) - eta * Math.sin(d0);
  const ra = ra0_deg + Math.atan2(xi, den) / DEG;
  const dec = Math.atan2(Math.sin(d0) + eta * Math.cos(d0), Math.hypot(xi, den)) / DEG;
  return { ra_deg: ((ra % 360) + 360) % 360, dec_deg: dec };
}
