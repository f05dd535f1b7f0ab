/** Best focus from HFR measured across a focuser sweep. Defocus blur grows linearly with the distance from focus and
 * adds in quadrature to the seeing, so HFR(p) = a·√(1 + ((p − c)/b)²): a hyperbola with its minimum a at c and
 * asymptotes of slope a/b ("vcurve"). A parabola ("parabolic") only describes the bottom of that curve, so it is
 * fitted to the lower half of the samples and weighted towards the sharpest.
 *
 * Bad frames (a passing cloud, a gust, a satellite) must not drag the minimum: the hyperbola fit starts from a
 * least trimmed squares solution (the best fit that may ignore a quarter of the samples) and is then refined by
 * iteratively reweighted least squares with Tukey's biweight; the parabola drops the samples that fit rejects
 * grossly. Residuals are relative (HFR noise grows with HFR).
 *
 * A minimum is only reported when the samples the fit kept bracket it, MIN_PER_SIDE on each side. With the focus at
 * the end of a sweep, one arm alone does not fix the hyperbola: its depth a and vertex c trade off along the arm,
 * so the vertex hangs on the one or two samples past it, and once the robust fit discards one of those as an
 * outlier, a pointed V extrapolated from the arm puts the vertex where it likes (40 µm off in a simulated sweep
 * with a single sample past the focus). The caller sweeps again centred nearer the minimum instead. */

export type FocusSample = { position: number; hfr: number };
export type FocusStrategy = "vcurve" | "parabolic";
export type FocusFit = {
  strategy: FocusStrategy;
  best_position: number;
  min_hfr: number;
  /** vcurve: a, b, c of a·√(1 + ((p − c)/b)²). parabolic: a, b, c of a·p² + b·p + c. Both: `inliers`, the
   * number of samples the robust fit kept. */
  params: Record<string, number>;
  /** Root mean square residual (HFR units) over the kept samples. */
  rms: number;
};

const MIN_SAMPLES = 5;
/** Tukey biweight tuning constant (95% efficiency for Gaussian errors), in units of the residuals' robust sigma. */
const TUKEY = 4.685;
/** Relative residual scale below which nothing counts as an outlier: HFR is never measured better than ~1%. */
const SCALE_FLOOR = 0.01;
const ROBUST_ROUNDS = 6;
/** A sample this far (relative) from the robust V-curve is a bad frame whatever the noise. */
const GROSS_OUTLIER = 0.15;
/** Kept samples needed strictly on each side of the fitted minimum. */
const MIN_PER_SIDE = 2;

/** `unbracketed_at`: the fitted minimum, when it lies inside the sweep but too few samples lie past it. */
export type FocusFitError = { error: string; unbracketed_at?: number };

export function fitFocusCurve(samples: readonly FocusSample[], strategy: FocusStrategy): FocusFit | FocusFitError {
  const usable = samples.filter((s) => Number.isFinite(s.position) && Number.isFinite(s.hfr) && s.hfr > 0);
  if (usable.length < MIN_SAMPLES) return { error: `need at least ${MIN_SAMPLES} samples with a valid HFR, got ${usable.length}` };
  const positions = usable.map((s) => s.position);
  const lo = Math.min(...positions);
  const hi = Math.max(...positions);
  if (!(hi > lo)) return { error: "all samples are at the same focuser position" };
  // Work in u = (p − mid)/half ∈ [−1, 1]: raw focuser steps (tens of thousands) squared would ruin the conditioning.
  const mid = (lo + hi) / 2;
  const half = (hi - lo) / 2;
  const u = Float64Array.from(usable, (s) => (s.position - mid) / half);
  const h = Float64Array.from(usable, (s) => s.hfr);

  const fit = strategy === "vcurve" ? fitHyperbola(u, h) : fitParabola(u, h);
  if ("error" in fit) return fit;
  const best_position = mid + fit.vertex * half;
  if (!(fit.vertex >= -1 && fit.vertex <= 1)) {
    const where = Math.abs(fit.vertex) < 1e6 ? `at ${best_position.toFixed(1)}` : "far";
    return { error: `the fitted minimum lies outside the sampled range ${lo}..${hi} (${where})` };
  }
  // A curve that hardly rises across the sweep has no minimum worth trusting: the sweep is too narrow for the
  // depth of focus, or the measurements are noise.
  const rise = Math.max(fit.model(-1), fit.model(1)) - fit.min;
  if (!(rise >= Math.max(0.05 * fit.min, 3 * fit.rms))) {
    return { error: "the HFR curve is too flat across the sweep to locate a minimum" };
  }
  const below = fit.kept.filter((x) => x < fit.vertex).length;
  const above = fit.kept.filter((x) => x > fit.vertex).length;
  if (Math.min(below, above) < MIN_PER_SIDE) {
    return {
      error: `the fitted minimum at ${best_position.toFixed(1)} is not bracketed: ${below} usable sample(s) below it and ${above} above, ${MIN_PER_SIDE} needed on each side`,
      unbracketed_at: best_position,
    };
  }
  const params = strategy === "vcurve" ? { a: fit.p[0]!, b: fit.p[1]! * half, c: best_position } : parabolaParams(fit.p, mid, half);
  return { strategy, best_position, min_hfr: fit.min, params: { ...params, inliers: fit.inliers }, rms: fit.rms };
}

type CurveFit = {
  /** Parameters in normalised position units. */
  p: number[];
  vertex: number;
  min: number;
  model: (u: number) => number;
  rms: number;
  inliers: number;
  /** Normalised positions of the samples the fit used. */
  kept: number[];
};

type Model = { p: number[]; predict: (u: number) => number };

/** Robust fit of h(u) by `fitWeighted` (a weighted least-squares fitter; weights 0 leave samples out).
 * Least trimmed squares by concentration steps (Rousseeuw & Van Driessen) from the full set and from every
 * leave-one-out set, then Tukey reweighting from the best of those. Samples are few (≤ ~41), so this is cheap. */
function robustFit(u: Float64Array, h: Float64Array, fitWeighted: (w: Float64Array) => Model | null): { model: Model; weights: Float64Array } | null {
  const n = u.length;
  const keep = Math.max(4, n - Math.floor(n / 4));
  const relative = (m: Model) => relativeResiduals(u, h, m);
  let best: Model | null = null;
  let bestCost = Infinity;
  for (let start = -1; start < n; start++) {
    let mask = new Float64Array(n).fill(1);
    if (start >= 0) mask[start] = 0;
    for (let step = 0; step < 10; step++) {
      const m = fitWeighted(mask);
      if (!m) break;
      const r = relative(m);
      const order = Array.from(r.keys()).sort((i, j) => Math.abs(r[i]!) - Math.abs(r[j]!));
      const next = new Float64Array(n);
      let cost = 0;
      for (let k = 0; k < keep; k++) {
        next[order[k]!] = 1;
        cost += r[order[k]!]! ** 2;
      }
      if (cost < bestCost) {
        bestCost = cost;
        best = m;
      }
      if (next.every((v, i) => v === mask[i])) break;
      mask = next;
    }
  }
  if (!best) return null;
  let model = best;
  let weights = tukeyWeights(relative(model));
  for (let round = 0; round < ROBUST_ROUNDS; round++) {
    const m = fitWeighted(weights);
    if (!m) break;
    model = m;
    const next = tukeyWeights(relative(model));
    if (next.filter((w) => w > 0).length < 4) break;
    weights = next;
  }
  return { model, weights };
}

function relativeResiduals(u: Float64Array, h: Float64Array, m: Model): Float64Array {
  return Float64Array.from(h, (y, i) => (y - m.predict(u[i]!)) / y);
}

/** Median of |r|. */
function medianAbs(r: Float64Array): number {
  return Array.from(r, Math.abs).sort((a, b) => a - b)[r.length >> 1]!;
}

/** Tukey biweights for relative residuals, scaled by their MAD (floored at SCALE_FLOOR). */
function tukeyWeights(r: Float64Array): Float64Array {
  const scale = TUKEY * Math.max(1.4826 * medianAbs(r), SCALE_FLOOR);
  return Float64Array.from(r, (x) => {
    const t = x / scale;
    return Math.abs(t) < 1 ? (1 - t * t) ** 2 : 0;
  });
}

function summary(u: Float64Array, h: Float64Array, model: Model, weights: Float64Array): { rms: number; inliers: number } {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < u.length; i++) {
    if (weights[i]! > 0) {
      sum += (h[i]! - model.predict(u[i]!)) ** 2;
      n++;
    }
  }
  return { rms: n > 0 ? Math.sqrt(sum / n) : NaN, inliers: n };
}

/** Weighted least squares for y ≈ A·u² + B·u + C; null when singular. */
function quadratic(u: Float64Array, y: Float64Array, w: Float64Array): [number, number, number] | null {
  const m = new Float64Array(9);
  const v = new Float64Array(3);
  for (let i = 0; i < u.length; i++) {
    const basis = [u[i]! * u[i]!, u[i]!, 1];
    for (let r = 0; r < 3; r++) {
      v[r]! += w[i]! * basis[r]! * y[i]!;
      for (let c = 0; c < 3; c++) m[r * 3 + c]! += w[i]! * basis[r]! * basis[c]!;
    }
  }
  const x = solve3(m, v);
  return x ? [x[0]!, x[1]!, x[2]!] : null;
}

/** Gaussian elimination with partial pivoting on a 3×3 system (row-major). */
function solve3(m: Float64Array, v: Float64Array): Float64Array | null {
  const a = Float64Array.from(m);
  const b = Float64Array.from(v);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(a[r * 3 + col]!) > Math.abs(a[pivot * 3 + col]!)) pivot = r;
    if (!(Math.abs(a[pivot * 3 + col]!) > 1e-300)) return null;
    if (pivot !== col) {
      for (let c = 0; c < 3; c++) [a[col * 3 + c], a[pivot * 3 + c]] = [a[pivot * 3 + c]!, a[col * 3 + c]!];
      [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    }
    for (let r = col + 1; r < 3; r++) {
      const f = a[r * 3 + col]! / a[col * 3 + col]!;
      for (let c = col; c < 3; c++) a[r * 3 + c]! -= f * a[col * 3 + c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Float64Array(3);
  for (let r = 2; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < 3; c++) s -= a[r * 3 + c]! * x[c]!;
    x[r] = s / a[r * 3 + r]!;
  }
  return x.every(Number.isFinite) ? x : null;
}

/** Quadratic in HFR over the lower half of the curve (at least the MIN_SAMPLES sharpest samples), weighted by
 * 1/HFR⁴: far-out samples, where the real curve is straight, would drag the vertex towards the side that was
 * sampled further out. With so few samples near the bottom, trimming and reweighting against the parabola itself
 * proved unstable; instead gross outliers are first screened out against the robust hyperbola fit (generously:
 * only samples that no smooth V-curve explains). */
function fitParabola(u: Float64Array, h: Float64Array): CurveFit | { error: string } {
  const screen = hyperbolaFit(u, h);
  const residuals = screen ? relativeResiduals(u, h, screen.model) : null;
  const limit = residuals ? Math.max(8 * 1.4826 * medianAbs(residuals), GROSS_OUTLIER) : Infinity;
  const kept = Array.from(h.keys()).filter((i) => !residuals || Math.abs(residuals[i]!) <= limit);
  const order = kept.sort((i, j) => h[i]! - h[j]!);
  const lowest = h[order[0]!]!;
  const cutoff = lowest + 0.5 * (h[order[order.length - 1]!]! - lowest);
  const chosen = order.filter((i, rank) => rank < MIN_SAMPLES || h[i]! <= cutoff);
  const su = Float64Array.from(chosen, (i) => u[i]!);
  const sh = Float64Array.from(chosen, (i) => h[i]!);
  const q = quadratic(su, sh, Float64Array.from(sh, (x) => 1 / x ** 4));
  if (!q) return { error: "the samples do not determine a parabola" };
  const [A, B, C] = q;
  if (!(A > 0)) return { error: "the HFR curve is not convex (no minimum within reach)" };
  const model: Model = { p: q, predict: (x) => A * x * x + B * x + C };
  const vertex = -B / (2 * A);
  return { p: q, vertex, min: model.predict(vertex), model: model.predict, kept: Array.from(su), ...summary(su, sh, model, new Float64Array(su.length).fill(1)) };
}

/** a·p² + b·p + c in raw focuser units from the normalised fit. */
function parabolaParams(p: number[], mid: number, half: number): { a: number; b: number; c: number } {
  const [A = 0, B = 0, C = 0] = p;
  return {
    a: A / (half * half),
    b: B / half - (2 * A * mid) / (half * half),
    c: (A * mid * mid) / (half * half) - (B * mid) / half + C,
  };
}

const hyperbola = (a: number, b: number, c: number, x: number): number => a * Math.sqrt(1 + ((x - c) / b) ** 2);

/** Vertex positions tried for the starting point, in normalised units: beyond the sweep on both sides, so that a
 * curve whose minimum lies outside finds it there (and is then refused) rather than at the nearest end. */
const GRID_LIMIT = 2;
const GRID_STEP = 0.01;

/** For each trial vertex on a grid the model is linear in HFR² = a² + k·(u − c)²; the best of those starts
 * Levenberg–Marquardt on HFR itself. The grid avoids the local minima (a degenerate, pointed V among them) that a
 * local search alone can fall into. */
function hyperbolaFit(u: Float64Array, h: Float64Array): { model: Model; weights: Float64Array } | null {
  const base = Float64Array.from(h, (x) => 1 / (x * x));
  return robustFit(u, h, (w) => {
    const weights = Float64Array.from(base, (b, i) => b * w[i]!);
    const start = gridStart(u, h, weights);
    if (!start) return null;
    const [a, b, c] = levenbergMarquardt(u, h, weights, start);
    return { p: [a, b, c], predict: (x) => hyperbola(a, b, c, x) };
  });
}

function fitHyperbola(u: Float64Array, h: Float64Array): CurveFit | { error: string } {
  const fit = hyperbolaFit(u, h);
  if (!fit) return { error: "the HFR curve is not convex (no minimum within reach)" };
  const [a = NaN, b = NaN, c = NaN] = fit.model.p;
  if (!(a > 0 && b > 0 && Number.isFinite(c))) return { error: "the hyperbola fit did not converge" };
  const kept = Array.from(u).filter((_, i) => fit.weights[i]! > 0);
  return { p: fit.model.p, vertex: c, min: a, model: fit.model.predict, kept, ...summary(u, h, fit.model, fit.weights) };
}

/** Weights w are for HFR; HFR² errors are 2·HFR times larger, hence the extra 1/HFR² below. */
function gridStart(u: Float64Array, h: Float64Array, w: Float64Array): [number, number, number] | null {
  let best: [number, number, number] | null = null;
  let bestCost = Infinity;
  const floor = (Math.min(...h) / 100) ** 2;
  for (let c = -GRID_LIMIT; c <= GRID_LIMIT + 1e-9; c += GRID_STEP) {
    // HFR² = A + K·d², weighted for HFR's relative errors (δ(HFR²) = 2·HFR·δHFR, hence the extra 1/HFR²).
    let s00 = 0, s01 = 0, s11 = 0, t0 = 0, t1 = 0;
    for (let i = 0; i < u.length; i++) {
      const d2 = (u[i]! - c) ** 2;
      const y = h[i]! * h[i]!;
      const wi = w[i]! / y;
      s00 += wi;
      s01 += wi * d2;
      s11 += wi * d2 * d2;
      t0 += wi * y;
      t1 += wi * y * d2;
    }
    const det = s00 * s11 - s01 * s01;
    if (!(det > 0)) continue;
    const K = (s00 * t1 - s01 * t0) / det;
    if (!(K > 0)) continue;
    const A = Math.max((t0 * s11 - t1 * s01) / det, floor);
    let cost = 0;
    for (let i = 0; i < u.length; i++) cost += w[i]! * (h[i]! - Math.sqrt(A + K * (u[i]! - c) ** 2)) ** 2;
    if (cost < bestCost) {
      bestCost = cost;
      best = [Math.sqrt(A), Math.sqrt(A / K), c];
    }
  }
  return best;
}

/** Weighted least squares of a·√(1 + ((u − c)/b)²) to h, from `start`; a and b are kept positive. */
function levenbergMarquardt(u: Float64Array, h: Float64Array, w: Float64Array, start: [number, number, number]): [number, number, number] {
  let p = start;
  const cost = (q: readonly number[]): number => {
    let s = 0;
    for (let i = 0; i < u.length; i++) s += w[i]! * (h[i]! - hyperbola(q[0]!, q[1]!, q[2]!, u[i]!)) ** 2;
    return s;
  };
  let current = cost(p);
  let lambda = 1e-3;
  const jtj = new Float64Array(9);
  const jtr = new Float64Array(3);
  const damped = new Float64Array(9);
  for (let iteration = 0; iteration < 100; iteration++) {
    const [a, b, c] = p;
    jtj.fill(0);
    jtr.fill(0);
    for (let i = 0; i < u.length; i++) {
      const t = (u[i]! - c) / b;
      const g = Math.sqrt(1 + t * t);
      const r = h[i]! - a * g;
      const j = [g, (-a * t * t) / (b * g), (-a * t) / (b * g)];
      for (let row = 0; row < 3; row++) {
        jtr[row]! += w[i]! * j[row]! * r;
        for (let col = 0; col < 3; col++) jtj[row * 3 + col]! += w[i]! * j[row]! * j[col]!;
      }
    }
    let improved = false;
    while (lambda < 1e12) {
      damped.set(jtj);
      for (let d = 0; d < 3; d++) damped[d * 4]! += lambda * Math.max(jtj[d * 4]!, 1e-12);
      const step = solve3(damped, jtr);
      if (step) {
        const q: [number, number, number] = [a + step[0]!, b + step[1]!, c + step[2]!];
        const next = q[0] > 0 && q[1] > 0 ? cost(q) : Infinity;
        if (next < current) {
          const converged = current - next <= 1e-12 * current;
          p = q;
          current = next;
          lambda = Math.max(lambda / 10, 1e-12);
          improved = !converged;
          break;
        }
      }
      lambda *= 10;
    }
    if (!improved) break;
  }
  return p;
}
