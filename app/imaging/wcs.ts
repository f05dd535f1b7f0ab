/** Minimal celestial WCS for our frames: a TAN (gnomonic) projection with a CD matrix, as FITS cards and as the
 * pixel ↔ sky mapping those cards describe.
 *
 * Pixel coordinates here are FITS's: 1-based, integer values at pixel centres. The array element at 0-based column
 * i, row j (index j · width + i, x fastest, first row stored first) has its centre at FITS (x, y) = (i + 1, j + 1);
 * so a 0-based centroid (cx, cy) from star measurement maps to (cx + 1, cy + 1). Row 0 is the bottom row as FITS
 * viewers display it (y grows upwards), which is the sense in which "north up, east left" is meant. */

import type { FitsCard, FitsValue } from "./fits";
import { tangentProject, tangentUnproject } from "./tangent-plane";

export type WcsParams = {
  /** Sky position of the frame centre (the reference pixel). */
  ra_deg: number;
  dec_deg: number;
  width: number;
  height: number;
  scale_arcsec_px: number;
  /** The CROTA2 convention: north lies rotation_deg counter-clockwise from image up (+y), east 90° further on.
   * At 0, north is up and east is left (RA grows towards −x), as the sky looks from the ground. */
  rotation_deg: number;
};

export type Wcs = {
  crpix1: number;
  crpix2: number;
  crval1: number;
  crval2: number;
  /** Degrees of (ξ, η) per pixel: [ξ, η] = CD · [x − crpix1, y − crpix2]. */
  cd1_1: number;
  cd1_2: number;
  cd2_1: number;
  cd2_2: number;
};

const DEG = Math.PI / 180;

export function makeWcs(p: WcsParams): Wcs {
  const s = p.scale_arcsec_px / 3600;
  const c = Math.cos(p.rotation_deg * DEG);
  const r = Math.sin(p.rotation_deg * DEG);
  // CDELT1 = −s (east left), CDELT2 = +s, rotated by CROTA2 (Calabretta & Greisen 2002, eq. 189).
  return {
    crpix1: (p.width + 1) / 2,
    crpix2: (p.height + 1) / 2,
    crval1: p.ra_deg,
    crval2: p.dec_deg,
    cd1_1: -s * c,
    cd1_2: -s * r,
    cd2_1: -s * r,
    cd2_2: s * c,
  };
}

export function wcsCards(p: WcsParams): FitsCard[] {
  const w = makeWcs(p);
  return [
    ["CTYPE1", "RA---TAN", "gnomonic projection"],
    ["CTYPE2", "DEC--TAN", "gnomonic projection"],
    ["CRPIX1", w.crpix1, "reference pixel (frame centre)"],
    ["CRPIX2", w.crpix2, "reference pixel (frame centre)"],
    ["CRVAL1", w.crval1, "RA at reference pixel [deg]"],
    ["CRVAL2", w.crval2, "Dec at reference pixel [deg]"],
    ["CD1_1", w.cd1_1, "[deg/pixel]"],
    ["CD1_2", w.cd1_2, "[deg/pixel]"],
    ["CD2_1", w.cd2_1, "[deg/pixel]"],
    ["CD2_2", w.cd2_2, "[deg/pixel]"],
    ["CUNIT1", "deg"],
    ["CUNIT2", "deg"],
    ["RADESYS", "ICRS"],
    ["EQUINOX", 2000],
  ];
}

/** The WCS in a decoded header, or null when it is not a TAN projection with a CD matrix. */
export function wcsFromCards(cards: ReadonlyMap<string, FitsValue>): Wcs | null {
  if (cards.get("CTYPE1") !== "RA---TAN" || cards.get("CTYPE2") !== "DEC--TAN") return null;
  const num = (key: string, fallback?: number): number => {
    const value = cards.get(key) ?? fallback;
    return typeof value === "number" ? value : NaN;
  };
  const wcs: Wcs = {
    crpix1: num("CRPIX1"),
    crpix2: num("CRPIX2"),
    crval1: num("CRVAL1"),
    crval2: num("CRVAL2"),
    cd1_1: num("CD1_1"),
    // Off-diagonal terms default to 0 per the standard; the diagonal ones have no sensible default.
    cd1_2: num("CD1_2", 0),
    cd2_1: num("CD2_1", 0),
    cd2_2: num("CD2_2"),
  };
  return Object.values(wcs).every(Number.isFinite) ? wcs : null;
}

/** Sky position of FITS pixel (x, y) (1-based; see the module comment for 0-based array indices). */
export function pixelToSky(wcs: Wcs, x: number, y: number): { ra_deg: number; dec_deg: number } {
  const dx = x - wcs.crpix1;
  const dy = y - wcs.crpix2;
  const xi = (wcs.cd1_1 * dx + wcs.cd1_2 * dy) * DEG;
  const eta = (wcs.cd2_1 * dx + wcs.cd2_2 * dy) * DEG;
  return tangentUnproject(wcs.crval1, wcs.crval2, xi, eta);
}

/** FITS pixel (x, y) (1-based) of a sky position; null when it is 90° or more from the frame centre. */
export function skyToPixel(wcs: Wcs, ra_deg: number, dec_deg: number): { x: number; y: number } | null {
  const t = tangentProject(wcs.crval1, wcs.crval2, ra_deg, dec_deg);
  if (t === null) return null;
  const xi = t.xi / DEG;
  const eta = t.eta / DEG;
  const det = wcs.cd1_1 * wcs.cd2_2 - wcs.cd1_2 * wcs.cd2_1;
  if (det === 0) return null;
  return {
    x: wcs.crpix1 + (wcs.cd2_2 * xi - wcs.cd1_2 * eta) / det,
    y: wcs.crpix2 + (-wcs.cd2_1 * xi + wcs.cd1_1 * eta) / det,
  };
}
