import { describe, expect, test } from "bun:test";
import { measureStars } from "../../app/imaging/star-measure";
import { renderStarField, Rng, type SimStar, type StarFieldOptions } from "../../hal/sim/star-field";

const GAUSSIAN_HFR = Math.sqrt(2 * Math.LN2); // 1.1774: half-flux radius of a Gaussian, in σ

/** Stars on a jittered grid, spaced so that they stay isolated, and far enough from the edges to be measured. */
function grid(width: number, height: number, spacing: number, margin: number, flux: () => number, seed = 1): SimStar[] {
  const r = new Rng(seed);
  const stars: SimStar[] = [];
  for (let y = margin; y <= height - margin; y += spacing) {
    for (let x = margin; x <= width - margin; x += spacing) stars.push({ x: x + r.uniform() - 0.5, y: y + r.uniform() - 0.5, flux: flux() });
  }
  return stars;
}

const base = (over: Partial<StarFieldOptions>): StarFieldOptions => ({
  width: 512,
  height: 384,
  stars: [],
  sigma_px: 2,
  background_e: 80,
  read_noise_e: 3.5,
  gain_e_per_adu: 1.2,
  bias_adu: 500,
  seed: 9,
  ...over,
});

describe("measureStars", () => {
  test("recovers HFR ≈ 1.1774σ and every bright isolated star for σ = 1.5..8 px", () => {
    for (const sigma of [1.5, 2.5, 4, 6, 8]) {
      const spacing = Math.ceil(14 * sigma);
      const margin = Math.ceil(7 * sigma);
      const r = new Rng(sigma * 10);
      const stars = grid(512, 384, spacing, margin, () => 2e5 * (0.5 + r.uniform()));
      const m = measureStars(renderStarField(base({ stars, sigma_px: sigma })), 512, 384, { max_stars: 1000 });
      expect(m.stars.length).toBe(stars.length);
      expect(m.hfr_px / (GAUSSIAN_HFR * sigma)).toBeGreaterThan(0.9);
      expect(m.hfr_px / (GAUSSIAN_HFR * sigma)).toBeLessThan(1.1);
      // Each found star sits on an injected one.
      for (const s of m.stars) {
        const nearest = Math.min(...stars.map((t) => Math.hypot(t.x - s.x, t.y - s.y)));
        expect(nearest).toBeLessThan(0.1 * sigma + 0.05);
      }
    }
  });

  test("HFR grows monotonically with σ, out to defocused stars of σ = 12 px, and is accurate there too", () => {
    let previous = 0;
    for (const sigma of [0.7, 1, 1.5, 2, 3, 4.5, 6, 8, 10, 12]) {
      const stars = [
        { x: 150.3, y: 190.6, flux: 3e5 },
        { x: 360.7, y: 190.2, flux: 6e4 },
      ];
      const m = measureStars(renderStarField(base({ stars, sigma_px: sigma, seed: Math.round(sigma * 7) })), 512, 384);
      expect(m.stars.length).toBe(2);
      expect(m.hfr_px).toBeGreaterThan(previous);
      expect(Math.abs(m.hfr_px / (GAUSSIAN_HFR * sigma) - 1)).toBeLessThan(0.1);
      previous = m.hfr_px;
    }
  });

  test("a faint, wide star that breaks up at the threshold is still measured as one star", () => {
    const stars = grid(512, 384, 170, 90, () => 2.5e4);
    const m = measureStars(renderStarField(base({ stars, sigma_px: 12, seed: 4 })), 512, 384);
    expect(m.stars.length).toBe(stars.length);
    expect(Math.abs(m.hfr_px / (GAUSSIAN_HFR * 12) - 1)).toBeLessThan(0.1);
  });

  test("estimates the sky, and finds nothing in an empty frame", () => {
    const m = measureStars(renderStarField(base({ hot_pixels: 0 })), 512, 384);
    expect(m.background_adu).toBeCloseTo(500 + 80 / 1.2, 0);
    expect(m.noise_adu / Math.sqrt((80 + 3.5 ** 2) / 1.2 ** 2 + 1 / 12)).toBeCloseTo(1, 1);
    expect(m.stars).toEqual([]);
    expect(m.hfr_px).toBeNaN();
  });

  test("skips hot pixels, saturated stars and stars cut by the frame's edge", () => {
    const stars = [
      { x: 100, y: 100, flux: 1e5 }, // measured
      { x: 300, y: 100, flux: 5e7 }, // saturated
      { x: 2, y: 200, flux: 1e5 }, // on the edge
      { x: 400, y: 300, flux: 1e5 }, // measured
    ];
    const pixels = renderStarField(base({ stars, hot_pixels: 40 }));
    // A defect inside a star, brighter than the star's peak, must not cost the star.
    pixels[100 * 512 + 103] = 60000;
    const m = measureStars(pixels, 512, 384);
    expect(m.stars.map((s) => [Math.round(s.x), Math.round(s.y)]).sort()).toEqual([
      [100, 100],
      [400, 300],
    ]);
    for (const s of m.stars) expect(s.hfr_px / (GAUSSIAN_HFR * 2)).toBeCloseTo(1, 1);
  });

  test("honours threshold_sigma and max_stars (keeping the brightest)", () => {
    const r = new Rng(5);
    const stars = grid(512, 384, 40, 30, () => 3e3 * Math.pow(30, r.uniform()));
    const pixels = renderStarField(base({ stars, sigma_px: 1.8 }));
    const all = measureStars(pixels, 512, 384);
    const strict = measureStars(pixels, 512, 384, { threshold_sigma: 40 });
    const few = measureStars(pixels, 512, 384, { max_stars: 5 });
    expect(strict.stars.length).toBeLessThan(all.stars.length);
    expect(few.stars.length).toBe(5);
    // Chosen by their detection, so among the brightest rather than exactly the five with the largest flux.
    const tenth = [...all.stars].sort((a, b) => b.flux - a.flux)[9]!.flux;
    for (const s of few.stars) expect(s.flux).toBeGreaterThanOrEqual(tenth);
    expect(all.stars.every((s, i) => i === 0 || all.stars[i - 1]!.flux >= s.flux)).toBe(true);
  });
});
