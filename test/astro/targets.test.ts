import { describe, expect, test } from "bun:test";
import { Body, Equator, EquatorFromVector, GeoVector, Horizon, Observer } from "astronomy-engine";
import { resolveTarget, trackingRates, type Resolved } from "../../app/astro/targets";
import { SIDEREAL_RATE_DEG_S, apparentToHorizontal, j2000ToHorizontal } from "../../app/astro/coordinates";
import { separationDeg } from "../../app/astro/angles";
import type { Site } from "../../app/astro/site";

const ARCSEC = 1 / 3600;
const site: Site = { latitude_deg: 40.015, longitude_deg: -105.27, elevation_m: 1655 };
const when = new Date("2025-06-15T04:30:00Z");

function ok(r: Resolved | { error: string }): Resolved {
  if ("error" in r) throw new Error(r.error);
  return r;
}

describe("resolveTarget", () => {
  test("equatorial: J2000 kept, apparent and alt/az from the coordinate functions, at() re-evaluates", () => {
    const r = ok(resolveTarget({ type: "equatorial", ra_deg: 279.2347, dec_deg: 38.7837, epoch: "J2000" }, when, site));
    expect(r.kind).toBe("equatorial");
    expect(r.name).toBeUndefined();
    expect([r.ra_deg, r.dec_deg]).toEqual([279.2347, 38.7837]);
    const hor = j2000ToHorizontal(279.2347, 38.7837, when, site);
    expect(r.alt_deg).toBeCloseTo(hor.alt_deg, 10);
    expect(r.az_deg).toBeCloseTo(hor.az_deg, 10);
    const later = new Date(when.getTime() + 3600_000);
    const s = r.at(later);
    const horLater = j2000ToHorizontal(279.2347, 38.7837, later, site);
    expect(s.alt_deg).toBeCloseTo(horLater.alt_deg, 10);
    expect(separationDeg(s.ra_app_deg, s.dec_app_deg, r.ra_app_deg, r.dec_app_deg) / ARCSEC).toBeLessThan(0.1);
  });

  test("named catalog objects resolve to their catalog position", () => {
    const m31 = ok(resolveTarget({ type: "named", name: "m 31" }, when, site));
    expect(m31).toMatchObject({ name: "M31", kind: "equatorial" });
    expect(m31.ra_deg).toBeCloseTo(10.6847, 3);
    const vega = ok(resolveTarget({ type: "named", name: "vega" }, when, site));
    expect(vega.name).toBe("Vega");
  });

  test("unknown names are an error that names the target and shows the accepted forms", () => {
    const r = resolveTarget({ type: "named", name: "Planet X" }, when, site);
    expect("error" in r).toBe(true);
    const msg = (r as { error: string }).error;
    expect(msg).toContain('"Planet X"');
    expect(msg).toContain("M31");
    expect(msg).toContain("equatorial");
  });

  test("the Sun matches astronomy-engine called directly", () => {
    const observer = new Observer(site.latitude_deg, site.longitude_deg, site.elevation_m);
    for (const d of [when, new Date("2025-12-21T18:00:00Z"), new Date("2030-03-20T12:00:00Z")]) {
      const r = ok(resolveTarget({ type: "solar_system", body: "Sun" }, d, site));
      const eq = Equator(Body.Sun, d, observer, true, false); // no aberration, as for fixed stars (targets.ts)
      const hor = Horizon(d, observer, eq.ra, eq.dec, "normal");
      expect(r).toMatchObject({ kind: "solar_system", body: "Sun", name: "Sun" });
      expect(r.alt_deg).toBeCloseTo(hor.altitude, 9);
      expect(r.az_deg).toBeCloseTo(hor.azimuth, 9);
    }
  });

  test("the Sun's declination at the June 2024 solstice (20 Jun 20:51 UTC) is the obliquity, 23.44°", () => {
    const r = ok(resolveTarget({ type: "named", name: "sun" }, new Date("2024-06-20T20:51:00Z"), site));
    expect(r.dec_app_deg).toBeCloseTo(23.44, 2);
  });

  test("Sun, Moon and planets are accepted as named targets", () => {
    for (const name of ["Moon", "mars", "JUPITER", " Saturn "]) {
      const r = ok(resolveTarget({ type: "named", name }, when, site));
      expect(r.kind).toBe("solar_system");
      expect(r.body?.toLowerCase()).toBe(name.trim().toLowerCase());
    }
  });

  test("the Moon's J2000 position is topocentric: parallax shifts it by up to ~1° from geocentric", () => {
    const r = ok(resolveTarget({ type: "solar_system", body: "Moon" }, when, site));
    const geo = EquatorFromVector(GeoVector(Body.Moon, when, false));
    const shift = separationDeg(r.ra_deg, r.dec_deg, geo.ra * 15, geo.dec);
    expect(shift).toBeGreaterThan(0.1);
    expect(shift).toBeLessThan(1.1);
  });

  test("horizontal targets hold alt/az; their RA/Dec of the moment reproduces that alt/az", () => {
    const r = ok(resolveTarget({ type: "horizontal", alt_deg: 30, az_deg: 120 }, when, site));
    expect(r.kind).toBe("horizontal");
    const later = new Date(when.getTime() + 2 * 3600_000);
    const s = r.at(later);
    expect([s.alt_deg, s.az_deg]).toEqual([30, 120]);
    const back = apparentToHorizontal(s.ra_app_deg, s.dec_app_deg, later, site);
    expect(separationDeg(back.az_deg, back.alt_deg, 120, 30) / ARCSEC).toBeLessThan(1);
    // Two hours of Earth rotation move the RA under a fixed alt/az by ~30°.
    expect(((s.ra_app_deg - r.ra_app_deg + 360) % 360)).toBeCloseTo(30.08, 1);
  });

  test("bad input is an error, not an exception", () => {
    expect("error" in resolveTarget({ type: "named", name: "Vega" }, new Date(NaN), site)).toBe(true);
    expect("error" in resolveTarget({ type: "named", name: "Vega" }, when, { ...site, latitude_deg: 95 })).toBe(true);
    expect("error" in resolveTarget({ type: "equatorial", ra_deg: 360, dec_deg: 0, epoch: "J2000" }, when, site)).toBe(true);
    expect("error" in resolveTarget({ type: "equatorial", ra_deg: NaN, dec_deg: 0, epoch: "J2000" }, when, site)).toBe(true);
    expect("error" in resolveTarget({ type: "horizontal", alt_deg: 91, az_deg: 0 }, when, site)).toBe(true);
  });
});

describe("trackingRates", () => {
  test("a fixed star turns the HA axis at the sidereal rate and leaves Dec still", () => {
    for (const name of ["Vega", "Sirius", "Polaris", "M31"]) {
      const r = ok(resolveTarget({ type: "named", name }, when, site));
      const rates = trackingRates(r, when, site);
      expect(Math.abs(rates.ha_deg_s - SIDEREAL_RATE_DEG_S)).toBeLessThan(1e-8);
      expect(Math.abs(rates.dec_deg_s)).toBeLessThan(1e-8);
    }
  });

  test("the Moon lags the stars by its orbital motion (~0.5°/h) and moves in Dec", () => {
    const r = ok(resolveTarget({ type: "solar_system", body: "Moon" }, when, site));
    const rates = trackingRates(r, when, site);
    const lag = SIDEREAL_RATE_DEG_S - rates.ha_deg_s;
    expect(lag).toBeGreaterThan(0.3 / 3600);
    expect(lag).toBeLessThan(0.8 / 3600);
    expect(Math.abs(rates.dec_deg_s)).toBeGreaterThan(1e-7);
    expect(Math.abs(rates.dec_deg_s)).toBeLessThan(0.3 / 3600);
  });

  test("the Moon's rate agrees with a minute-long difference of its own track", () => {
    const r = ok(resolveTarget({ type: "solar_system", body: "Moon" }, when, site));
    const rates = trackingRates(r, when, site);
    const a = r.at(new Date(when.getTime() - 30_000));
    const b = r.at(new Date(when.getTime() + 30_000));
    expect((b.dec_app_deg - a.dec_app_deg) / 60).toBeCloseTo(rates.dec_deg_s, 9);
  });

  test("a horizontal target needs no axis motion", () => {
    const r = ok(resolveTarget({ type: "horizontal", alt_deg: 45, az_deg: 200 }, when, site));
    const rates = trackingRates(r, when, site);
    expect(Math.abs(rates.ha_deg_s)).toBeLessThan(1e-7);
    expect(Math.abs(rates.dec_deg_s)).toBeLessThan(1e-7);
  });
});
