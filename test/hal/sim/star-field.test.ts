import { describe, expect, test } from "bun:test";
import { fieldStars, gnomonicProject, gnomonicUnproject, magToFlux } from "../../../hal/sim/sky-field";
import { renderStarField, Rng, type StarFieldOptions } from "../../../hal/sim/star-field";

const frame = (over: Partial<StarFieldOptions> = {}): StarFieldOptions => ({
  width: 256,
  height: 192,
  stars: [],
  sigma_px: 2,
  background_e: 100,
  read_noise_e: 4,
  gain_e_per_adu: 2,
  bias_adu: 1000,
  seed: 42,
  ...over,
});

function stats(pixels: Uint16Array): { mean: number; sd: number } {
  let sum = 0;
  let sum2 = 0;
  for (const v of pixels) {
    sum += v;
    sum2 += v * v;
  }
  const mean = sum / pixels.length;
  return { mean, sd: Math.sqrt(sum2 / pixels.length - mean * mean) };
}

describe("Rng", () => {
  test("is deterministic per seed and its normals have mean 0, variance 1 and Gaussian tails", () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const fromA = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(fromA);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(fromA);

    const n = 400_000;
    let sum = 0;
    let sum2 = 0;
    let beyond3 = 0;
    for (let i = 0; i < n; i++) {
      const x = a.normal();
      sum += x;
      sum2 += x * x;
      if (Math.abs(x) > 3) beyond3++;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.01);
    expect(Math.abs(sum2 / n - 1)).toBeLessThan(0.01);
    // P(|x| > 3) = 0.0027 for a normal; a sampler without its tail (or with a fat one) misses this.
    expect(beyond3 / n).toBeGreaterThan(0.0022);
    expect(beyond3 / n).toBeLessThan(0.0032);
  });

  test("Poisson deviates have mean and variance equal to the mean", () => {
    const r = new Rng(3);
    for (const mean of [0.5, 4, 15]) {
      let s = 0;
      let s2 = 0;
      let fractional = 0;
      const n = 100_000;
      for (let i = 0; i < n; i++) {
        const k = r.poisson(mean);
        if (!Number.isInteger(k)) fractional++;
        s += k;
        s2 += k * k;
      }
      expect(fractional).toBe(0);
      expect(s / n).toBeCloseTo(mean, 1);
      expect((s2 / n - (s / n) ** 2) / mean).toBeCloseTo(1, 1);
    }
  });
});

describe("renderStarField", () => {
  test("the same seed renders the same frame, another seed another", () => {
    const stars = [{ x: 100.3, y: 80.7, flux: 50_000 }];
    const a = renderStarField(frame({ stars }));
    expect(renderStarField(frame({ stars }))).toEqual(a);
    expect(renderStarField(frame({ stars, seed: 43 }))).not.toEqual(a);
  });

  test("sky level and noise follow bias, background, read noise and gain (Gaussian and Poisson regimes)", () => {
    for (const background_e of [100, 3]) {
      const { mean, sd } = stats(renderStarField(frame({ width: 512, height: 512, background_e })));
      const gain = 2;
      expect(mean).toBeCloseTo(1000 + background_e / gain, 1);
      // Rounding to whole ADU adds 1/12 ADU² of variance.
      const expected = Math.sqrt((background_e + 16) / gain ** 2 + 1 / 12);
      expect(sd / expected).toBeGreaterThan(0.98);
      expect(sd / expected).toBeLessThan(1.02);
    }
  });

  test("a star adds its flux, centred where it was put, with the Gaussian's spread", () => {
    const star = { x: 120.3, y: 90.6, flux: 200_000 };
    const opts = frame({ stars: [star], sigma_px: 2.5 });
    const pixels = renderStarField(opts);
    const sky = renderStarField({ ...opts, stars: [] });
    let flux = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    for (let y = 60; y < 122; y++) {
      for (let x = 90; x < 152; x++) {
        const f = (pixels[y * opts.width + x]! - sky[y * opts.width + x]!) * opts.gain_e_per_adu;
        flux += f;
        sx += f * x;
        sy += f * y;
        sxx += f * (x - star.x) ** 2;
      }
    }
    expect(flux / star.flux).toBeGreaterThan(0.99);
    expect(flux / star.flux).toBeLessThan(1.01);
    expect(sx / flux).toBeCloseTo(star.x, 1);
    expect(sy / flux).toBeCloseTo(star.y, 1);
    // Pixel integration adds 1/12 px² to the Gaussian's variance.
    expect(Math.sqrt(sxx / flux)).toBeCloseTo(Math.sqrt(2.5 ** 2 + 1 / 12), 1);
  });

  test("clips at 65535, renders stars partly off the frame, and adds the requested hot pixels", () => {
    const pixels = renderStarField(frame({ stars: [{ x: 10, y: 10, flux: 1e9 }, { x: -3, y: 50, flux: 1e6 }] }));
    expect(pixels[10 * 256 + 10]).toBe(65535);
    expect(pixels[50 * 256 + 0]! - 1050).toBeGreaterThan(1000);
    const clean = renderStarField(frame({ background_e: 0, read_noise_e: 0 }));
    const hot = renderStarField(frame({ background_e: 0, read_noise_e: 0, hot_pixels: 25 }));
    expect(clean.every((v) => v === 1000)).toBe(true);
    const spikes = hot.filter((v) => v >= 1500).length;
    expect(spikes).toBeGreaterThan(20);
    expect(spikes).toBeLessThanOrEqual(25);
  });

  test("renders 1024×768 with 200 stars quickly", () => {
    const r = new Rng(1);
    const stars = Array.from({ length: 200 }, () => ({ x: r.uniform() * 1024, y: r.uniform() * 768, flux: 1e3 + r.uniform() * 2e5 }));
    const opts = frame({ width: 1024, height: 768, stars, sigma_px: 3, hot_pixels: 20 });
    for (let i = 0; i < 3; i++) renderStarField(opts);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      renderStarField({ ...opts, seed: i });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    // Typically ~10 ms on a desktop x86 core; the bound leaves room for a loaded test machine.
    expect(times[2]!).toBeLessThan(100);
  });
});

describe("sky field", () => {
  const key = (s: { ra_deg: number; dec_deg: number; mag: number }) => `${s.ra_deg.toFixed(9)},${s.dec_deg.toFixed(9)},${s.mag}`;
  const DEG = Math.PI / 180;
  // Haversine: acos loses precision for the tiny angles checked here.
  const separation = (ra1: number, dec1: number, ra2: number, dec2: number) => {
    const h = Math.sin(((dec2 - dec1) * DEG) / 2) ** 2 + Math.cos(dec1 * DEG) * Math.cos(dec2 * DEG) * Math.sin(((ra2 - ra1) * DEG) / 2) ** 2;
    return (2 * Math.asin(Math.min(1, Math.sqrt(h)))) / DEG;
  };

  test("two overlapping pointings see the same stars where they overlap", () => {
    for (const [ra, dec] of [
      [83.8, 22],
      [359.9, -5],
      [200, 88.9],
    ] as const) {
      const a = fieldStars(ra, dec, 0.8);
      const b = fieldStars(ra + 0.5 / Math.cos(dec * DEG), dec + 0.2, 0.8);
      const inB = new Set(b.map(key));
      const shared = a.filter((s) => separation(s.ra_deg, s.dec_deg, ra + 0.5 / Math.cos(dec * DEG), dec + 0.2) < 0.8 - 1e-9);
      expect(shared.length).toBeGreaterThan(100);
      for (const s of shared) expect(inB.has(key(s))).toBe(true);
      expect(fieldStars(ra, dec, 0.8).map(key)).toEqual(a.map(key));
    }
  });

  test("returns stars inside the radius only, brightest first, with a plausible density and magnitude range", () => {
    const stars = fieldStars(150, 30, 1);
    const areaDeg2 = 2 * Math.PI * (1 - Math.cos(DEG)) / DEG ** 2;
    expect(stars.length / areaDeg2).toBeGreaterThan(700);
    expect(stars.length / areaDeg2).toBeLessThan(1300);
    for (const s of stars) expect(separation(s.ra_deg, s.dec_deg, 150, 30)).toBeLessThanOrEqual(1 + 1e-9);
    expect(stars.every((s, i) => i === 0 || stars[i - 1]!.mag <= s.mag)).toBe(true);
    expect(stars[0]!.mag).toBeGreaterThanOrEqual(8);
    expect(stars.at(-1)!.mag).toBeLessThanOrEqual(15);
    // Counts rise steeply with magnitude.
    const brighter = (m: number) => stars.filter((s) => s.mag < m).length;
    expect(brighter(14) - brighter(13)).toBeGreaterThan(1.5 * (brighter(13) - brighter(12)));
    const bright = fieldStars(150, 30, 1, { limitingMag: 12 });
    expect(bright.every((s) => s.mag <= 12)).toBe(true);
    expect(bright.map(key)).toEqual(stars.filter((s) => s.mag <= 12).map(key));
  });

  test("gnomonic projection inverts, points east/north the standard way, and refuses the far hemisphere", () => {
    for (const [ra0, dec0, ra, dec] of [
      [10, 20, 10.5, 20.3],
      [359.8, -30, 0.3, -30.2],
      [45, 89.5, 225, 89.7],
    ] as const) {
      const t = gnomonicProject(ra0, dec0, ra, dec)!;
      const back = gnomonicUnproject(ra0, dec0, t.xi, t.eta);
      expect(separation(back.ra_deg, back.dec_deg, ra, dec)).toBeLessThan(1e-9);
    }
    expect(gnomonicProject(10, 20, 10.1, 20)!.xi).toBeGreaterThan(0);
    expect(gnomonicProject(10, 20, 10, 20.1)!.eta).toBeCloseTo(0.1 * DEG, 6);
    expect(gnomonicProject(10, 20, 190, -20)).toBeNull();
  });

  test("magToFlux scales by 2.5 mag per factor 10, exposure and throughput", () => {
    expect(magToFlux(0, 1, 1)).toBeCloseTo(1e8, 0);
    expect(magToFlux(15, 2, 0.5) / magToFlux(12.5, 2, 0.5)).toBeCloseTo(0.1, 10);
    expect(magToFlux(10, 3, 0.5, 1e6)).toBeCloseTo(1e6 * 1e-4 * 1.5, 6);
  });
});
