import { describe, expect, test } from "bun:test";
import { offsetAt, patternPeriodS, type OffsetPattern } from "../../app/astro/patterns";
import { MountTrack, rasterGrid } from "../../app/protocol/commands";

const raster: OffsetPattern = { type: "raster", width_arcsec: 100, height_arcsec: 60, step_arcsec: 20, dwell_s: 2 };
const daisy: OffsetPattern = { type: "daisy", radius_arcsec: 300, petals: 5, period_s: 120 };

function pointsOf(p: Extract<OffsetPattern, { type: "raster" }>): [number, number][] {
  const out: [number, number][] = [];
  const period = patternPeriodS(p);
  for (let t = p.dwell_s / 2; t < period; t += p.dwell_s) {
    const o = offsetAt(p, t);
    out.push([o.dx_arcsec, o.dy_arcsec]);
  }
  return out;
}

describe("raster", () => {
  test("grid size and period: (floor(w/step)+1) x (floor(h/step)+1) points, dwell each", () => {
    expect(patternPeriodS(raster)).toBe(6 * 4 * 2);
    expect(pointsOf(raster).length).toBe(24);
  });

  test("visits every grid point once per cycle, including all four corners", () => {
    const pts = pointsOf(raster);
    const keys = new Set(pts.map(([x, y]) => `${x},${y}`));
    expect(keys.size).toBe(24);
    for (const corner of ["-50,-30", "50,-30", "-50,30", "50,30"]) expect(keys.has(corner)).toBe(true);
  });

  test("starts at a corner and moves one step at a time, snaking row by row (boustrophedon)", () => {
    const pts = pointsOf(raster);
    expect(pts[0]).toEqual([-50, -30]);
    for (let i = 1; i < pts.length; i++) {
      const [x0, y0] = pts[i - 1]!;
      const [x1, y1] = pts[i]!;
      expect(Math.abs(x1 - x0) + Math.abs(y1 - y0)).toBeCloseTo(20, 9);
    }
    expect(pts[5]).toEqual([50, -30]);
    expect(pts[6]).toEqual([50, -10]);
  });

  test("stays inside width x height and is centred on the target", () => {
    const odd: OffsetPattern = { type: "raster", width_arcsec: 100, height_arcsec: 50, step_arcsec: 30, dwell_s: 1 };
    const pts = pointsOf(odd);
    expect(pts.length).toBe(4 * 2);
    for (const [x, y] of pts) {
      expect(Math.abs(x)).toBeLessThanOrEqual(50);
      expect(Math.abs(y)).toBeLessThanOrEqual(25);
    }
    const mean = pts.reduce(([sx, sy], [x, y]) => [sx + x, sy + y], [0, 0]);
    expect(Math.abs(mean[0])).toBeLessThan(1e-9);
    expect(Math.abs(mean[1])).toBeLessThan(1e-9);
  });

  test("a width that is an exact multiple of the step keeps its last column despite float rounding", () => {
    const p: OffsetPattern = { type: "raster", width_arcsec: 0.3, height_arcsec: 0.1, step_arcsec: 0.1, dwell_s: 1 };
    expect(patternPeriodS(p)).toBe(4 * 2);
  });

  test("holds still during a dwell and repeats after the period, for negative times too", () => {
    expect(offsetAt(raster, 2.0)).toEqual(offsetAt(raster, 3.999));
    expect(offsetAt(raster, 2.0)).not.toEqual(offsetAt(raster, 4.0));
    expect(offsetAt(raster, 48 + 5)).toEqual(offsetAt(raster, 5));
    expect(offsetAt(raster, -1)).toEqual(offsetAt(raster, 47));
  });
});

describe("daisy", () => {
  const R = 300;
  const T = 120;

  test("starts and ends each cycle on the target", () => {
    for (const t of [0, T, 2 * T, -T]) {
      const o = offsetAt(daisy, t);
      expect(Math.hypot(o.dx_arcsec, o.dy_arcsec)).toBeLessThan(1e-9);
    }
    expect(patternPeriodS(daisy)).toBe(T);
  });

  test("reaches exactly radius_arcsec and never beyond", () => {
    let max = 0;
    for (let i = 0; i <= 20000; i++) {
      const o = offsetAt(daisy, (i / 20000) * T);
      max = Math.max(max, Math.hypot(o.dx_arcsec, o.dy_arcsec));
    }
    expect(max).toBeLessThanOrEqual(R + 1e-9);
    expect(max).toBeGreaterThan(R * 0.99999);
  });

  test("draws `petals` petals: back to centre every T/P, tips evenly spaced at radius R", () => {
    const P = 5;
    const tipAngles: number[] = [];
    for (let m = 0; m < P; m++) {
      const centre = offsetAt(daisy, (m * T) / P);
      expect(Math.hypot(centre.dx_arcsec, centre.dy_arcsec)).toBeLessThan(1e-9);
      const tip = offsetAt(daisy, ((m + 0.5) * T) / P);
      expect(Math.hypot(tip.dx_arcsec, tip.dy_arcsec)).toBeCloseTo(R, 9);
      tipAngles.push(Math.atan2(tip.dy_arcsec, tip.dx_arcsec));
    }
    for (let m = 1; m < P; m++) {
      const gap = (tipAngles[m]! - tipAngles[m - 1]! + 4 * Math.PI) % (2 * Math.PI);
      expect(gap).toBeCloseTo((2 * Math.PI) / P, 9);
    }
  });

  test("moves continuously (no jumps between close times)", () => {
    let prev = offsetAt(daisy, 0);
    const dt = T / 10000;
    for (let i = 1; i <= 10000; i++) {
      const o = offsetAt(daisy, i * dt);
      // Speed is bounded by R·(2π/T)·sqrt(1 + (P/2)²).
      expect(Math.hypot(o.dx_arcsec - prev.dx_arcsec, o.dy_arcsec - prev.dy_arcsec)).toBeLessThan(R * (2 * Math.PI / T) * 3 * dt);
      prev = o;
    }
  });

  test("a single petal is a closed loop through the centre", () => {
    const one: OffsetPattern = { type: "daisy", radius_arcsec: 10, petals: 1, period_s: 60 };
    const tip = offsetAt(one, 30);
    expect(tip.dx_arcsec).toBeCloseTo(-10, 9); // θ = π: the single tip points toward -RA
    expect(Math.hypot(offsetAt(one, 60).dx_arcsec, offsetAt(one, 60).dy_arcsec)).toBeLessThan(1e-9);
  });
});

describe("bounded by the schema", () => {
  test("the largest raster the schema takes (10,000 points at the 0.1\" step) has a finite period and finite offsets everywhere", () => {
    const biggest = MountTrack.parse({
      command_type: "mount.track",
      target: { type: "named", name: "M31" },
      offset_pattern: { type: "raster", width_arcsec: 9.9, height_arcsec: 9.9, step_arcsec: 0.1, dwell_s: 0.1 },
    }).offset_pattern!;
    expect(patternPeriodS(biggest)).toBeCloseTo(10_000 * 0.1, 6);
    for (let t = -3; t < 1100; t += 0.37) {
      const o = offsetAt(biggest, t);
      expect(Number.isFinite(o.dx_arcsec) && Number.isFinite(o.dy_arcsec)).toBe(true);
      expect(Math.max(Math.abs(o.dx_arcsec), Math.abs(o.dy_arcsec))).toBeLessThanOrEqual(4.95 + 1e-9);
    }
  });

  test("the grid it walks is the one the schema counts", () => {
    expect(rasterGrid({ width_arcsec: 0.3, height_arcsec: 0.1, step_arcsec: 0.1 })).toEqual({ nx: 4, ny: 2 });
    const p: OffsetPattern = { type: "raster", width_arcsec: 0.3, height_arcsec: 0.1, step_arcsec: 0.1, dwell_s: 1 };
    expect(patternPeriodS(p)).toBe(8);
  });
});
