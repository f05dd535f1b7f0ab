import { describe, expect, test } from "bun:test";
import { gnomonicProject, gnomonicUnproject } from "../../hal/sim/sky-field";
import { decodeFits, encodeFits } from "../../app/imaging/fits";
import { tangentProject, tangentUnproject } from "../../app/imaging/tangent-plane";
import { makeWcs, pixelToSky, skyToPixel, wcsCards, wcsFromCards, type WcsParams } from "../../app/imaging/wcs";

const DEG = Math.PI / 180;
const params: WcsParams = { ra_deg: 83.82, dec_deg: -5.39, width: 1024, height: 768, scale_arcsec_px: 1.463, rotation_deg: 0 };

/** Great-circle distance in arcseconds (haversine, exact for small angles). */
function arcsecBetween(ra1: number, dec1: number, ra2: number, dec2: number): number {
  const h = Math.sin(((dec2 - dec1) * DEG) / 2) ** 2 + Math.cos(dec1 * DEG) * Math.cos(dec2 * DEG) * Math.sin(((ra2 - ra1) * DEG) / 2) ** 2;
  return ((2 * Math.asin(Math.sqrt(h))) / DEG) * 3600;
}

describe("wcsCards", () => {
  test("writes a TAN WCS with the reference pixel at the frame centre", () => {
    const cards = new Map(wcsCards(params).map(([k, v]) => [k, v]));
    expect(cards.get("CTYPE1")).toBe("RA---TAN");
    expect(cards.get("CTYPE2")).toBe("DEC--TAN");
    expect(cards.get("CRPIX1")).toBe(512.5);
    expect(cards.get("CRPIX2")).toBe(384.5);
    expect(cards.get("CRVAL1")).toBe(83.82);
    expect(cards.get("CRVAL2")).toBe(-5.39);
    expect(cards.get("CUNIT1")).toBe("deg");
    expect(cards.get("CUNIT2")).toBe("deg");
    expect(cards.get("RADESYS")).toBe("ICRS");
    expect(cards.get("EQUINOX")).toBe(2000);
    // North up, east left: RA falls along +x.
    expect(cards.get("CD1_1")).toBeCloseTo(-1.463 / 3600, 12);
    expect(cards.get("CD2_2")).toBeCloseTo(1.463 / 3600, 12);
    expect(cards.get("CD1_2")).toBeCloseTo(0, 15);
    expect(cards.get("CD2_1")).toBeCloseTo(0, 15);
  });

  test("survives a FITS round trip and reads back as the same WCS", () => {
    const p = { ...params, rotation_deg: 33 };
    const bytes = encodeFits({ width: 4, height: 3, pixels: new Uint16Array(12) }, wcsCards(p));
    const wcs = wcsFromCards(decodeFits(bytes).cards)!;
    const expected = makeWcs(p);
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) expect(wcs[key]).toBeCloseTo(expected[key], 15);
    expect(wcsFromCards(new Map([["CTYPE1", "RA---SIN"]]))).toBeNull();
  });
});

describe("pixelToSky / skyToPixel", () => {
  test("the reference pixel is at CRVAL and pixels map back to themselves", () => {
    for (const rotation_deg of [0, 37, -120]) {
      for (const [ra_deg, dec_deg] of [
        [83.82, -5.39],
        [359.95, 10],
        [0.02, -30],
        [120, 89.8],
      ] as const) {
        const wcs = makeWcs({ ...params, ra_deg, dec_deg, rotation_deg });
        const centre = pixelToSky(wcs, 512.5, 384.5);
        expect(arcsecBetween(centre.ra_deg, centre.dec_deg, ra_deg, dec_deg)).toBeLessThan(1e-6);
        for (const [x, y] of [
          [1, 1],
          [1024, 768],
          [300.25, 700.75],
          [512.5, 1],
        ] as const) {
          const sky = pixelToSky(wcs, x, y);
          const back = skyToPixel(wcs, sky.ra_deg, sky.dec_deg)!;
          expect(back.x).toBeCloseTo(x, 6);
          expect(back.y).toBeCloseTo(y, 6);
        }
      }
    }
  });

  test("at rotation 0 north is up (+y) and east is left (−x), one pixel per scale", () => {
    const wcs = makeWcs(params);
    const centre = pixelToSky(wcs, 512.5, 384.5);
    const up = pixelToSky(wcs, 512.5, 484.5);
    const right = pixelToSky(wcs, 612.5, 384.5);
    expect(up.dec_deg).toBeGreaterThan(centre.dec_deg);
    expect(up.ra_deg).toBeCloseTo(centre.ra_deg, 9);
    expect(right.ra_deg).toBeLessThan(centre.ra_deg);
    expect(arcsecBetween(centre.ra_deg, centre.dec_deg, up.ra_deg, up.dec_deg)).toBeCloseTo(146.3, 1);
    expect(arcsecBetween(centre.ra_deg, centre.dec_deg, right.ra_deg, right.dec_deg)).toBeCloseTo(146.3, 1);
    const north = skyToPixel(wcs, params.ra_deg, params.dec_deg + 0.01)!;
    expect(north.x).toBeCloseTo(512.5, 6);
    expect(north.y).toBeGreaterThan(384.5);
  });

  test("rotation turns north counter-clockwise from up (the CROTA2 sense)", () => {
    const wcs = makeWcs({ ...params, rotation_deg: 90 });
    const north = skyToPixel(wcs, params.ra_deg, params.dec_deg + 0.01)!;
    expect(north.x).toBeLessThan(512.5 - 20);
    expect(north.y).toBeCloseTo(384.5, 3);
    const rotated = makeWcs({ ...params, rotation_deg: 30 });
    const n30 = skyToPixel(rotated, params.ra_deg, params.dec_deg + 0.01)!;
    expect((Math.atan2(-(n30.x - 512.5), n30.y - 384.5) * 180) / Math.PI).toBeCloseTo(30, 3);
  });

  test("points 90° or more from the centre have no pixel", () => {
    const wcs = makeWcs(params);
    expect(skyToPixel(wcs, params.ra_deg + 180, -params.dec_deg)).toBeNull();
  });
});

describe("tangent plane", () => {
  test("app and hal copies of the gnomonic formulas agree", () => {
    for (const [ra0, dec0, ra, dec] of [
      [10, 20, 10.5, 20.3],
      [359.8, -30, 0.3, -30.2],
      [45, 89.5, 225, 89.7],
    ] as const) {
      const a = tangentProject(ra0, dec0, ra, dec)!;
      const b = gnomonicProject(ra0, dec0, ra, dec)!;
      expect(a.xi).toBe(b.xi);
      expect(a.eta).toBe(b.eta);
      expect(tangentUnproject(ra0, dec0, a.xi, a.eta)).toEqual(gnomonicUnproject(ra0, dec0, b.xi, b.eta));
    }
  });
});
