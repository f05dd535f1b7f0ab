import { describe, expect, test } from "bun:test";
import { fitFocusCurve, type FocusSample } from "../../app/imaging/focus-fit";
import { measureStars } from "../../app/imaging/star-measure";
import { renderStarField, Rng } from "../../hal/sim/star-field";

const hyperbola = (a: number, b: number, c: number) => (p: number) => a * Math.sqrt(1 + ((p - c) / b) ** 2);

function sweep(from: number, to: number, steps: number, hfr: (p: number) => number, noise: number, rng: Rng): FocusSample[] {
  return Array.from({ length: steps }, (_, i) => {
    const position = from + ((to - from) * i) / (steps - 1);
    return { position, hfr: hfr(position) * (1 + noise * rng.normal()) };
  });
}

function expectFit(samples: FocusSample[], strategy: "vcurve" | "parabolic") {
  const fit = fitFocusCurve(samples, strategy);
  if ("error" in fit) throw new Error(`${strategy}: ${fit.error}`);
  return fit;
}

describe("fitFocusCurve", () => {
  test("finds the minimum of noisy hyperbolic sweeps within 1% of the sweep, with either strategy", () => {
    const rng = new Rng(2024);
    for (let trial = 0; trial < 25; trial++) {
      const c = 24_300 + rng.uniform() * 1400;
      const a = 1 + rng.uniform() * 1.5;
      const b = 150 + rng.uniform() * 150;
      const samples = sweep(24_000, 26_000, 11, hyperbola(a, b, c), 0.02, rng);
      for (const strategy of ["vcurve", "parabolic"] as const) {
        const fit = expectFit(samples, strategy);
        expect(fit.strategy).toBe(strategy);
        expect(Math.abs(fit.best_position - c)).toBeLessThan(20);
        expect(fit.min_hfr / a).toBeGreaterThan(0.9);
        expect(fit.min_hfr / a).toBeLessThan(1.1);
      }
    }
  });

  test("reports parameters that describe the fitted curve", () => {
    const samples = sweep(1000, 3000, 9, hyperbola(1.8, 250, 2110), 0, new Rng(1));
    const v = expectFit(samples, "vcurve");
    expect(v.params.c).toBeCloseTo(2110, 3);
    expect(v.params.a).toBeCloseTo(1.8, 6);
    expect(v.params.b).toBeCloseTo(250, 3);
    expect(v.params.inliers).toBe(9);
    expect(v.rms).toBeLessThan(1e-6);
    const p = expectFit(samples, "parabolic");
    const { a, b, c } = p.params as { a: number; b: number; c: number };
    expect(-b / (2 * a)).toBeCloseTo(p.best_position, 6);
    expect(a * p.best_position ** 2 + b * p.best_position + c).toBeCloseTo(p.min_hfr, 6);
    expect(Math.abs(p.best_position - 2110)).toBeLessThan(20);
  });

  test("the V-curve ignores a few bad frames", () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 10; trial++) {
      const c = 24_500 + rng.uniform() * 1000;
      const samples = sweep(24_000, 26_000, 11, hyperbola(1.5, 200, c), 0.01, rng);
      samples[1 + Math.floor(rng.uniform() * 4)]!.hfr *= 2.5; // cloud
      samples[6 + Math.floor(rng.uniform() * 4)]!.hfr *= 0.6; // a frame with only the sharpest stars
      const fit = expectFit(samples, "vcurve");
      expect(Math.abs(fit.best_position - c)).toBeLessThan(20);
      expect(fit.params.inliers).toBe(9);
    }
  });

  test("refuses monotonic, concave, flat and too-short sweeps instead of inventing a focus", () => {
    const line = Array.from({ length: 9 }, (_, i) => ({ position: 1000 + 100 * i, hfr: 6 - 0.5 * i }));
    const concave = line.map((s) => ({ ...s, hfr: 5 - ((s.position - 1400) / 400) ** 2 }));
    // Bottoms out mid-sweep but rises by only 2%: noise could put the minimum anywhere.
    const flat = line.map((s, i) => ({ ...s, hfr: 3 + 0.06 * ((i - 4) / 4) ** 2 + 0.01 * Math.sin(i * 2.1) }));
    const outside = sweep(1000, 1800, 9, hyperbola(1.2, 100, 2100), 0, new Rng(1));
    for (const strategy of ["vcurve", "parabolic"] as const) {
      expect(fitFocusCurve(line, strategy)).toEqual({ error: expect.stringContaining("outside the sampled range") });
      expect(fitFocusCurve(outside, strategy)).toEqual({ error: expect.stringContaining("outside the sampled range") });
      // A hump: no minimum inside (the hyperbola then puts it beyond the sweep, the parabola opens downwards).
      expect("error" in fitFocusCurve(concave, strategy)).toBe(true);
      expect(fitFocusCurve(flat, strategy)).toEqual({ error: expect.stringContaining("too flat") });
      expect(fitFocusCurve(line.slice(0, 4), strategy)).toEqual({ error: expect.stringContaining("at least 5") });
      // Unusable samples do not count towards the five.
      const holey = [...line.slice(0, 4), { position: 1500, hfr: Number.NaN }, { position: 1600, hfr: 0 }];
      expect(fitFocusCurve(holey, strategy)).toEqual({ error: expect.stringContaining("at least 5") });
    }
  });

  test("refuses a minimum with fewer than two kept samples past it, and says where it is", () => {
    // Measured by the simulator (true focus 23 350) in a sweep that ended one sample past the focus. The robust fit
    // discarded 23 400 and put a pointed V's tip at 23 389 by extrapolating the other arm.
    const measured = [13.943, 11.81, 10.413, 8.633, 6.863, 5.244, 3.394, 1.775, 1.858].map((hfr, i) => ({ position: 22_600 + 100 * i, hfr }));
    const refused = fitFocusCurve(measured, "vcurve");
    expect(refused).toEqual({ error: expect.stringContaining("not bracketed"), unbracketed_at: expect.any(Number) });
    expect(Math.abs((refused as { unbracketed_at: number }).unbracketed_at - 23_350)).toBeLessThan(100);
    // Noise-free, so no sample is an outlier: one sample past the minimum is still too few, two are enough.
    const curve = hyperbola(1.5, 80, 23_350);
    for (const strategy of ["vcurve", "parabolic"] as const) {
      const oneBeyond = sweep(22_600, 23_400, 9, curve, 0, new Rng(1));
      expect(fitFocusCurve(oneBeyond, strategy)).toEqual({ error: expect.stringContaining("not bracketed"), unbracketed_at: expect.any(Number) });
      const twoBeyond = sweep(22_700, 23_500, 9, curve, 0, new Rng(1));
      expect(Math.abs(expectFit(twoBeyond, strategy).best_position - 23_350)).toBeLessThan(5);
    }
  });

  test("end to end: rendered frames through a focus sweep lead back to the simulated focus", () => {
    // Seeing σ 0.9 px; defocus adds 1 px of σ per 40 steps, in quadrature: a hyperbola in focuser steps.
    const focus = 10_130;
    const sigmaAt = (p: number) => Math.hypot(0.9, (p - focus) / 40);
    const r = new Rng(3);
    const stars = Array.from({ length: 25 }, () => ({ x: 40 + r.uniform() * 432, y: 40 + r.uniform() * 304, flux: 2e4 * Math.pow(10, r.uniform()) }));
    const samples: FocusSample[] = [];
    for (let position = 9_800; position <= 10_400; position += 75) {
      const pixels = renderStarField({
        width: 512,
        height: 384,
        stars,
        sigma_px: sigmaAt(position),
        background_e: 40,
        read_noise_e: 3.5,
        gain_e_per_adu: 1,
        bias_adu: 500,
        seed: position,
        hot_pixels: 10,
      });
      const m = measureStars(pixels, 512, 384);
      expect(m.stars.length).toBeGreaterThan(10);
      samples.push({ position, hfr: m.hfr_px });
    }
    for (const strategy of ["vcurve", "parabolic"] as const) {
      const fit = expectFit(samples, strategy);
      expect(Math.abs(fit.best_position - focus)).toBeLessThan(6); // 1% of the 600-step sweep
    }
    const v = expectFit(samples, "vcurve");
    expect(v.min_hfr).toBeCloseTo(0.9 * Math.sqrt(2 * Math.LN2), 1);
  });
});
