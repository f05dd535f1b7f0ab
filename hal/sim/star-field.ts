/** Simulated camera frames: stars as pixel-integrated Gaussian PSFs on a flat sky, with shot noise, read noise, bias
 * and optional hot pixels. Deterministic for a given seed so tests and replays see the same frame. */

export type SimStar = {
  /** 0-based pixel coordinates of the PSF centre; pixel (i, j) spans [i − 0.5, i + 0.5] × [j − 0.5, j + 0.5]. */
  x: number;
  y: number;
  /** Total electrons collected from the star (before the ±4σ box truncates the far wings). */
  flux: number;
};

export type StarFieldOptions = {
  width: number;
  height: number;
  stars: readonly SimStar[];
  sigma_px: number;
  background_e: number;
  read_noise_e: number;
  gain_e_per_adu: number;
  bias_adu: number;
  seed: number;
  /** How many single-pixel defects to add (brightness 500..50 000 ADU above bias, log-uniform). */
  hot_pixels?: number;
};

/** Ziggurat tables (Marsaglia & Tsang 2000) for 128 layers of equal area under exp(−x²/2), magnitudes of 24 bits.
 * With layer edges x[0] > x[1] = R > … > x[128] = 0, layer i spans [0, x[i]] and its part left of x[i + 1] lies
 * wholly under the curve: ZIG_K[i] is that share in 24-bit units, ZIG_W[i] the width of one unit, ZIG_F = f(x). */
const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const { ZIG_K, ZIG_W, ZIG_F } = (() => {
  const n = 128;
  const x = new Float64Array(n + 1);
  x[0] = ZIG_V / Math.exp(-0.5 * ZIG_R * ZIG_R);
  x[1] = ZIG_R;
  for (let i = 1; i < n - 1; i++) x[i + 1] = Math.sqrt(-2 * Math.log(Math.exp(-0.5 * x[i]! * x[i]!) + ZIG_V / x[i]!));
  x[n] = 0;
  const k = new Uint32Array(n);
  const w = new Float64Array(n);
  const f = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++) f[i] = Math.exp(-0.5 * x[i]! * x[i]!);
  for (let i = 0; i < n; i++) {
    k[i] = Math.floor(0x1000000 * (x[i + 1]! / x[i]!));
    w[i] = x[i]! / 0x1000000;
  }
  return { ZIG_K: k, ZIG_W: w, ZIG_F: f };
})();

/** xoshiro128** (Blackman & Vigna) seeded through splitmix32: tiny, fast in 32-bit integer JIT code, and good
 * enough statistically for noise that astronomers will look at. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // splitmix32 spreads any seed (even 0, 1, 2, …) over the whole state. Everything stays signed int32 (| 0),
    // which the JIT keeps in integer registers; unsigned values above 2^31 would become doubles.
    let z = seed | 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) | 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      return t ^ (t >>> 16);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // An all-zero state would be stuck at zero forever.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  uint32(): number {
    return this.next() >>> 0;
  }

  /** The raw output as a signed int32: staying in the JIT's int32 representation keeps the callers below fast. */
  private next(): number {
    const s1 = this.s1;
    const t = Math.imul(s1, 5);
    const result = Math.imul((t << 7) | (t >>> 25), 9);
    const u = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= u;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return (this.next() >>> 0) * 2.3283064365386963e-10;
  }

  /** Standard normal by the ziggurat method: one integer draw and a table compare ~99% of the time; a frame needs
   * one normal per pixel, so this is the render's hot spot. Index, sign and magnitude come from disjoint bits. */
  normal(): number {
    const u = this.next();
    const i = u & 127;
    const j = u >>> 8;
    // Kept tiny so the JIT inlines it into the pixel loop (the rare rest lives in normalSlow), and the sign is
    // applied arithmetically because a coin-flip branch costs more than everything else here.
    if (j < ZIG_K[i]!) return j * ZIG_W[i]! * (1 - ((u >>> 6) & 2));
    return this.normalSlow(u);
  }

  private normalSlow(first: number): number {
    let u = first;
    for (;;) {
      const i = u & 127;
      const j = u >>> 8;
      const x = j * ZIG_W[i]!;
      if (j < ZIG_K[i]!) return u & 128 ? -x : x;
      if (i === 0) {
        // Base layer overflow: Marsaglia's exact sampler for the tail beyond ZIG_R.
        let tx: number;
        let ty: number;
        do {
          tx = -Math.log(1 - this.uniform()) / ZIG_R;
          ty = -Math.log(1 - this.uniform());
        } while (ty + ty < tx * tx);
        return u & 128 ? -(ZIG_R + tx) : ZIG_R + tx;
      }
      if (ZIG_F[i]! + this.uniform() * (ZIG_F[i + 1]! - ZIG_F[i]!) < Math.exp(-0.5 * x * x)) return u & 128 ? -x : x;
      u = this.next();
    }
  }

  /** Poisson deviate: exact (Knuth) for small means where the shape matters; above POISSON_GAUSS_ABOVE a Gaussian
   * of the same mean and variance, left unrounded because the caller adds read noise and quantises afterwards. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean >= POISSON_GAUSS_ABOVE) return Math.max(0, mean + Math.sqrt(mean) * this.normal());
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.uniform();
    while (p > limit) {
      k++;
      p *= this.uniform();
    }
    return k;
  }
}

/** Above this many electrons the Poisson distribution is close enough to a Gaussian for a simulated frame. */
const POISSON_GAUSS_ABOVE = 20;

/** A Poisson distribution sampled by table look-up (Chen & Asau guide table): the sky of a short focus frame holds
 * only a few electrons per pixel, and this keeps sampling it to about one compare per pixel. */
class PoissonTable {
  private readonly cdf: Float64Array;
  private readonly guide: Uint16Array;

  constructor(mean: number) {
    const values: number[] = [];
    let p = Math.exp(-mean);
    let sum = 0;
    for (let k = 0; sum < 1 - 1e-12 && k < 1000; k++) {
      sum += p;
      values.push(sum);
      p *= mean / (k + 1);
    }
    this.cdf = Float64Array.from(values);
    this.guide = new Uint16Array(GUIDE_SIZE);
    let k = 0;
    for (let g = 0; g < GUIDE_SIZE; g++) {
      while (k < values.length - 1 && values[k]! < g / GUIDE_SIZE) k++;
      this.guide[g] = k;
    }
  }

  /** u uniform in [0, 1). */
  sample(u: number): number {
    let k = this.guide[(u * GUIDE_SIZE) | 0]!;
    const last = this.cdf.length - 1;
    while (k < last && u > this.cdf[k]!) k++;
    return k;
  }
}

const GUIDE_SIZE = 1024;

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): plenty for a PSF rendered into 16-bit pixels. */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return sign * y;
}

/** Fractions of a unit 1-D Gaussian falling into pixels lo..hi (pixel k spans [k − 0.5, k + 0.5]). */
function pixelFractions(centre: number, sigma: number, lo: number, hi: number, out: Float64Array): void {
  const k = 1 / (sigma * Math.SQRT2);
  let prev = erf((lo - 0.5 - centre) * k);
  for (let i = lo; i <= hi; i++) {
    const next = erf((i + 0.5 - centre) * k);
    // The erf approximation's last-digit wobble must not make far-wing pixels negative.
    out[i - lo] = Math.max(0, 0.5 * (next - prev));
    prev = next;
  }
}

/** Expected star electrons per pixel (no noise). The PSF is separable, so each star costs two short erf passes and
 * one multiply-add per pixel of its ±4σ box. */
function addStars(signal: Float32Array, width: number, height: number, stars: readonly SimStar[], sigma: number): void {
  const half = Math.ceil(4 * sigma);
  const fx = new Float64Array(2 * half + 2);
  const fy = new Float64Array(2 * half + 2);
  for (const star of stars) {
    if (!(star.flux > 0)) continue;
    const x0 = Math.max(0, Math.round(star.x) - half);
    const x1 = Math.min(width - 1, Math.round(star.x) + half);
    const y0 = Math.max(0, Math.round(star.y) - half);
    const y1 = Math.min(height - 1, Math.round(star.y) + half);
    if (x0 > x1 || y0 > y1) continue;
    pixelFractions(star.x, sigma, x0, x1, fx);
    pixelFractions(star.y, sigma, y0, y1, fy);
    for (let y = y0; y <= y1; y++) {
      const rowFlux = star.flux * fy[y - y0]!;
      const row = y * width;
      for (let x = x0; x <= x1; x++) signal[row + x]! += rowFlux * fx[x - x0]!;
    }
  }
}

/** One frame in ADU, row-major with x fastest (index = y · width + x), clipped to 0..65535. */
export function renderStarField(opts: StarFieldOptions): Uint16Array<ArrayBuffer> {
  const { width, height, sigma_px, background_e, read_noise_e, gain_e_per_adu, bias_adu } = opts;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`renderStarField: bad frame size ${width}×${height}`);
  }
  if (!(sigma_px > 0) || !(gain_e_per_adu > 0) || background_e < 0 || read_noise_e < 0) {
    throw new Error("renderStarField: sigma_px and gain must be positive, background and read noise non-negative");
  }
  const n = width * height;
  const signal = new Float32Array(n);
  addStars(signal, width, height, opts.stars, sigma_px);

  const rng = new Rng(opts.seed);
  const out = new Uint16Array(n);
  const invGain = 1 / gain_e_per_adu;
  const readVar = read_noise_e * read_noise_e;
  // Sky-only pixels are the vast majority and all share one distribution, so its parameters are worked out once.
  const skySd = Math.sqrt(background_e + readVar);
  const skyPoisson = background_e < POISSON_GAUSS_ABOVE ? new PoissonTable(background_e) : null;
  for (let i = 0; i < n; i++) {
    const star = signal[i]!;
    let electrons: number;
    if (star === 0) {
      electrons =
        skyPoisson === null
          ? background_e + skySd * rng.normal()
          : skyPoisson.sample(rng.uniform()) + read_noise_e * rng.normal();
    } else {
      const mean = background_e + star;
      electrons =
        mean >= POISSON_GAUSS_ABOVE
          ? mean + Math.sqrt(mean + readVar) * rng.normal() // shot + read noise as one Gaussian
          : rng.poisson(mean) + read_noise_e * rng.normal();
    }
    // Round half up by truncation after the clamp: Math.round is several times slower here on JSC.
    const adu = electrons * invGain + bias_adu + 0.5;
    out[i] = adu <= 0 ? 0 : adu >= 65535 ? 65535 : adu | 0;
  }

  const hot = opts.hot_pixels ?? 0;
  for (let h = 0; h < hot; h++) {
    const i = rng.uint32() % n;
    const adu = out[i]! + Math.round(500 * Math.pow(100, rng.uniform()));
    out[i] = adu > 65535 ? 65535 : adu;
  }
  return out;
}
