import { describe, expect, test } from "bun:test";
import {
  SIDEREAL_RATE_DEG_S,
  apparentToHorizontal,
  apparentToJ2000,
  greenwichSiderealDeg,
  horizontalToApparent,
  horizontalToJ2000,
  hourAngleDeg,
  j2000ToApparent,
  j2000ToHorizontal,
  localSiderealDeg,
} from "../../app/astro/coordinates";
import { separationDeg } from "../../app/astro/angles";
import type { Site } from "../../app/astro/site";

const ARCSEC = 1 / 3600;
const boulder: Site = { latitude_deg: 40.015, longitude_deg: -105.27, elevation_m: 1655 };
const sydney: Site = { latitude_deg: -33.87, longitude_deg: 151.21, elevation_m: 50 };
const dates = [new Date("2000-01-01T12:00:00Z"), new Date("2025-03-01T04:00:00Z"), new Date("2031-08-17T21:37:12.345Z")];

describe("sidereal time", () => {
  test("GAST matches Meeus (Astronomical Algorithms ch. 12: 1987-04-10 0h UT, 13h10m46.1351s) to well under a second", () => {
    const published = (13 + 10 / 60 + 46.1351 / 3600) * 15;
    const got = greenwichSiderealDeg(new Date("1987-04-10T00:00:00Z"));
    // 1 s of time = 1/240 degree; UTC vs UT1 in 1987 differed by < 0.3 s.
    expect(Math.abs(got - published) * 240).toBeLessThan(0.5);
  });

  test("local sidereal time is GAST plus east longitude, folded into [0, 360)", () => {
    for (const d of dates) {
      const lst = localSiderealDeg(d, boulder);
      expect(lst).toBeGreaterThanOrEqual(0);
      expect(lst).toBeLessThan(360);
      const diff = (lst - greenwichSiderealDeg(d) - boulder.longitude_deg + 720) % 360;
      expect(Math.min(diff, 360 - diff)).toBeLessThan(1e-9);
    }
  });

  test("sidereal time advances at SIDEREAL_RATE_DEG_S", () => {
    const t0 = new Date("2025-03-01T04:00:00Z");
    const t1 = new Date(t0.getTime() + 3600_000);
    const advanced = (greenwichSiderealDeg(t1) - greenwichSiderealDeg(t0) + 360) % 360;
    expect(advanced / 3600).toBeCloseTo(SIDEREAL_RATE_DEG_S, 9);
    expect(SIDEREAL_RATE_DEG_S).toBeCloseTo(0.0041780746, 9);
  });

  test("hour angle is in (-180, 180] and zero on the meridian", () => {
    const d = dates[1]!;
    const lst = localSiderealDeg(d, boulder);
    expect(Math.abs(hourAngleDeg(lst, d, boulder))).toBeLessThan(1e-9);
    for (let ra = 0; ra < 360; ra += 7.3) {
      const ha = hourAngleDeg(ra, d, boulder);
      expect(ha).toBeGreaterThan(-180);
      expect(ha).toBeLessThanOrEqual(180);
    }
    expect(hourAngleDeg((lst + 180) % 360, d, boulder)).toBeCloseTo(180, 9);
  });
});

describe("J2000 <-> apparent", () => {
  const points: [number, number][] = [
    [0, 0], [359.9999, 12], [0.0001, -12], [101.2872, -16.7161], [279.2347, 38.7837], [37.95, 89.2641], [200, -89.5], [180, 60],
  ];

  test("round trip is exact to < 0.01 arcsec", () => {
    for (const d of dates)
      for (const [ra, dec] of points) {
        const app = j2000ToApparent(ra, dec, d);
        expect(app.ra_deg).toBeGreaterThanOrEqual(0);
        expect(app.ra_deg).toBeLessThan(360);
        const back = apparentToJ2000(app.ra_deg, app.dec_deg, d);
        expect(separationDeg(ra, dec, back.ra_deg, back.dec_deg) / ARCSEC).toBeLessThan(0.01);
      }
  });

  test("at the J2000 epoch only nutation separates the frames (< 25 arcsec)", () => {
    const epoch = new Date("2000-01-01T11:58:56Z"); // J2000.0 = 12:00 TT
    for (const [ra, dec] of points) {
      const app = j2000ToApparent(ra, dec, epoch);
      expect(separationDeg(ra, dec, app.ra_deg, app.dec_deg) / ARCSEC).toBeLessThan(25);
    }
  });

  test("precession over 25 years moves RA by the textbook amount (m + n sin α tan δ)", () => {
    // Annual precession: m = 3.075 s, n = 1.336 s in RA; 20.04" × cos α in Dec. Over 25 years, ignoring nutation
    // (≤ 20"), Sirius should move ≈ +2.64 s/yr in RA and ≈ -4.7"/yr in Dec.
    const d = new Date("2025-01-01T12:00:00Z");
    const [ra, dec] = [101.2872, -16.7161];
    const app = j2000ToApparent(ra, dec, d);
    const years = 25;
    const dRaSec = (3.075 + 1.336 * Math.sin(ra * Math.PI / 180) * Math.tan(dec * Math.PI / 180)) * years;
    const dDecArcsec = 20.04 * Math.cos(ra * Math.PI / 180) * years;
    expect(Math.abs((app.ra_deg - ra) * 240 - dRaSec)).toBeLessThan(2); // seconds of time
    expect(Math.abs((app.dec_deg - dec) * 3600 - dDecArcsec)).toBeLessThan(25); // arcsec
  });
});

describe("apparent <-> horizontal", () => {
  test("a star on the meridian is due south at 90 - |lat - dec| (no refraction)", () => {
    const d = dates[1]!;
    const ra = localSiderealDeg(d, boulder);
    const hor = apparentToHorizontal(ra, 10, d, boulder, false);
    expect(hor.az_deg).toBeCloseTo(180, 6);
    expect(hor.alt_deg).toBeCloseTo(90 - (boulder.latitude_deg - 10), 6);
  });

  test("refraction lifts by the Saemundsson amount: ~1.0' at 45°, ~29' at the horizon", () => {
    const d = dates[1]!;
    const ra = localSiderealDeg(d, boulder);
    const dec45 = boulder.latitude_deg - 45; // culminates at true altitude 45°
    const lift45 = apparentToHorizontal(ra, dec45, d, boulder).alt_deg - apparentToHorizontal(ra, dec45, d, boulder, false).alt_deg;
    expect(lift45 * 60).toBeGreaterThan(0.9);
    expect(lift45 * 60).toBeLessThan(1.1);
    const dec0 = boulder.latitude_deg - 90;
    const lift0 = apparentToHorizontal(ra, dec0, d, boulder).alt_deg - apparentToHorizontal(ra, dec0, d, boulder, false).alt_deg;
    expect(lift0 * 60).toBeGreaterThan(27);
    expect(lift0 * 60).toBeLessThan(31);
  });

  test("round trip alt/az -> RA/Dec -> alt/az is < 1 arcsec above 5°, with and without refraction", () => {
    for (const site of [boulder, sydney])
      for (const d of dates)
        for (const refraction of [true, false])
          for (let alt = 5.5; alt < 90; alt += 7)
            for (let az = 0; az < 360; az += 23) {
              const eq = horizontalToApparent(alt, az, d, site, refraction);
              const back = apparentToHorizontal(eq.ra_deg, eq.dec_deg, d, site, refraction);
              expect(separationDeg(az, alt, back.az_deg, back.alt_deg) / ARCSEC).toBeLessThan(1);
            }
  });

  test("round trip RA/Dec -> alt/az -> RA/Dec is < 1 arcsec for stars above 5°", () => {
    const d = dates[2]!;
    for (let ra = 0; ra < 360; ra += 17)
      for (let dec = -80; dec <= 85; dec += 11) {
        const hor = j2000ToHorizontal(ra, dec, d, boulder);
        if (hor.alt_deg < 5) continue;
        const back = horizontalToJ2000(hor.alt_deg, hor.az_deg, d, boulder);
        expect(separationDeg(ra, dec, back.ra_deg, back.dec_deg) / ARCSEC).toBeLessThan(1);
      }
  });

  test("azimuth runs north through east: a star rising is in the east, setting in the west", () => {
    const d = dates[1]!;
    const lst = localSiderealDeg(d, boulder);
    const rising = apparentToHorizontal((lst + 60) % 360, 0, d, boulder); // HA -60°
    const setting = apparentToHorizontal((lst - 60 + 360) % 360, 0, d, boulder); // HA +60°
    expect(rising.az_deg).toBeGreaterThan(90);
    expect(rising.az_deg).toBeLessThan(180);
    expect(setting.az_deg).toBeGreaterThan(180);
    expect(setting.az_deg).toBeLessThan(270);
  });

  test("Polaris stands at the site latitude within 1°, all night", () => {
    for (let h = 0; h < 24; h += 3) {
      const d = new Date(Date.UTC(2025, 9, 1, h));
      const hor = j2000ToHorizontal(37.9529, 89.2641, d, boulder);
      expect(Math.abs(hor.alt_deg - boulder.latitude_deg)).toBeLessThan(1);
      expect(Math.min(hor.az_deg, 360 - hor.az_deg)).toBeLessThan(1.5);
    }
  });
});
