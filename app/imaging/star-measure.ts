/** Star detection and half-flux radius (HFR) measurement, the input of autofocus. HFR here is the radius of the
 * circle, centred on the star's centroid, that holds half of the star's background-subtracted flux (for a Gaussian
 * PSF, σ·√(2 ln 2) ≈ 1.1774σ). Coordinates are 0-based array indices: pixel (i, j) is pixels[j · width + i] and its
 * centre is at (i, j); add 1 for FITS pixel coordinates. */

export type MeasuredStar = {
  x: number;
  y: number;
  /** Background-subtracted ADU inside the measuring aperture. */
  flux: number;
  hfr_px: number;
};

export type StarMeasurement = {
  background_adu: number;
  /** Per-pixel standard deviation of the sky, ADU. */
  noise_adu: number;
  /** Brightest first. */
  stars: MeasuredStar[];
  /** Median HFR of the measured stars; NaN when there are none. */
  hfr_px: number;
};

export type MeasureOptions = {
  /** Detection threshold in units of the smoothed sky noise, and the minimum signal-to-noise of a measured star. */
  threshold_sigma?: number;
  /** Measure at most this many stars, the brightest as detected (default 200). */
  max_stars?: number;
  /** Stars with any pixel at or above this are left out: a clipped core makes the HFR meaningless. */
  saturation_adu?: number;
};

/** Detection works on the image averaged over SMOOTH × SMOOTH boxes: defocused stars spread their light thinly, and
 * averaging lifts them out of the per-pixel noise. */
const SMOOTH = 5;
const SMOOTH_HALF = (SMOOTH - 1) / 2;
/** Largest measuring radius: enough for a Gaussian of σ ≈ 12 px out to where it meets the sky (~5σ) plus margin. */
const MAX_RADIUS = 96;
/** Radial bin width of the curve of growth. */
const BIN = 0.1;
/** Pixels nearer the centre than this are split into SUB × SUB parts when binning by radius: for small stars a
 * whole pixel spans a large range of radii. */
const SPLIT_RADIUS = 4;
const SUB = 4;
/** r50² of a Gaussian grows by 2 ln 2 · v for extra variance v per axis; see StarMeasurer.measure. */
const PIXEL_BLUR_R50_SQ = 2 * Math.LN2 * (1 / 12 + 1 / 12);

export function measureStars(raw: Uint16Array, width: number, height: number, opts: MeasureOptions = {}): StarMeasurement {
  if (raw.length !== width * height) throw new Error(`measureStars: ${raw.length} pixels for ${width}×${height}`);
  const threshold = opts.threshold_sigma ?? 5;
  const maxStars = opts.max_stars ?? 200;
  const saturation = opts.saturation_adu ?? 65000;

  const work = workBuffers(width, height);
  const { background, noise } = skyLevel(raw, work.hist);
  const empty: StarMeasurement = { background_adu: background, noise_adu: noise, stars: [], hfr_px: NaN };
  if (width <= 2 * SMOOTH_HALF || height <= 2 * SMOOTH_HALF || !(noise > 0)) return empty;
  const pixels = withoutHotPixels(raw, width, height, background, noise, work.clean);

  boxSmooth(pixels, width, height, work.scratch, work.smoothed);
  // Averaging SMOOTH² independent pixels divides the noise by SMOOTH.
  const blobs = findBlobs(work, pixels, background + (threshold * noise) / SMOOTH, background);
  blobs.sort((a, b) => b.weight - a.weight);

  const measurer = new StarMeasurer(pixels, width, height, blobs.labels, blobs.length, background, noise);
  const stars: MeasuredStar[] = [];
  for (let k = 0; k < blobs.length && stars.length < maxStars; k++) {
    const blob = blobs[k]!;
    if (measurer.ownerOf(blob.label) !== blob.label) continue;
    let star = measurer.measure(blob, blob.cx, blob.cy);
    if (star === null) continue;
    // A faint, wide (defocused) star breaks up into several blobs at the threshold. Fainter blobs inside this one's
    // profile are taken as its fragments (or blended neighbours): their pixels join it and they are not measured
    // on their own.
    // Saturated stars still claim their surroundings, so that their halo is not measured as stars of its own.
    let absorbed = false;
    let maxValue = blob.maxValue;
    for (let f = k + 1; f < blobs.length; f++) {
      const other = blobs[f]!;
      if (measurer.ownerOf(other.label) !== other.label) continue;
      if (Math.hypot(other.cx - star.x, other.cy - star.y) < star.edge) {
        measurer.absorb(other, blob.label);
        absorbed = true;
        maxValue = Math.max(maxValue, other.maxValue);
      }
    }
    if (maxValue >= saturation) continue;
    if (absorbed) star = measurer.measure(blob, star.x, star.y);
    if (star === null || star.snr < threshold) continue;
    stars.push({ x: star.x, y: star.y, flux: star.flux, hfr_px: star.hfr });
  }
  stars.sort((a, b) => b.flux - a.flux);
  return { ...empty, stars, hfr_px: median(stars.map((s) => s.hfr_px)) };
}

type WorkBuffers = {
  width: number;
  height: number;
  hist: Uint32Array;
  clean: Uint16Array;
  /** First the smoothing's row sums, then the blob finder's stack. */
  scratch: Int32Array;
  smoothed: Float32Array;
  labels: Int32Array;
};

let cachedWork: WorkBuffers | null = null;

/** Frame-sized work buffers, kept from call to call: autofocus measures frame after frame of one size, and fresh
 * multi-megabyte arrays every time keep a Raspberry Pi's garbage collector busy. (Calls are synchronous, so
 * sharing them is safe.) */
function workBuffers(width: number, height: number): WorkBuffers {
  if (cachedWork?.width !== width || cachedWork.height !== height) {
    const n = width * height;
    cachedWork = {
      width,
      height,
      hist: new Uint32Array(65536),
      clean: new Uint16Array(n),
      scratch: new Int32Array(n),
      smoothed: new Float32Array(n),
      labels: new Int32Array(n),
    };
  }
  return cachedWork;
}

/** Sky level and noise by iterated 3σ clipping of a subsample's histogram (16-bit values make the histogram cheap
 * and exact). The level is the clipped mean rather than the median: fluxes are sums over many pixels, so any
 * offset between the median and the mean of a skewed (Poisson) sky would be multiplied by the aperture area. */
function skyLevel(pixels: Uint16Array, hist: Uint32Array): { background: number; noise: number } {
  hist.fill(0);
  const step = Math.max(1, Math.floor(pixels.length / 65536));
  for (let i = 0; i < pixels.length; i += step) hist[pixels[i]!]!++;
  let lo = 0;
  let hi = 65535;
  let centre = 0;
  let mean = 0;
  let sd = 0;
  for (let iteration = 0; iteration < 20; iteration++) {
    let count = 0;
    let sum = 0;
    let sum2 = 0;
    for (let v = lo; v <= hi; v++) {
      const c = hist[v]!;
      count += c;
      sum += c * v;
      sum2 += c * v * v;
    }
    if (count === 0) break;
    mean = sum / count;
    sd = Math.sqrt(Math.max(0, sum2 / count - mean * mean));
    // The median (interpolated within its bin) anchors the window: stars drag the mean up, not the median.
    let below = 0;
    centre = lo;
    for (let v = lo; v <= hi; v++) {
      const c = hist[v]!;
      if (below + c >= count / 2) {
        centre = v - 0.5 + (count / 2 - below) / Math.max(c, 1);
        break;
      }
      below += c;
    }
    // At least ±1 ADU: a very quiet sky must not clip itself away.
    const half = Math.max(3 * sd, 1);
    const nextLo = Math.max(0, Math.floor(centre - half));
    const nextHi = Math.min(65535, Math.ceil(centre + half));
    if (nextLo === lo && nextHi === hi) break;
    lo = nextLo;
    hi = nextHi;
  }
  // Clipping a Gaussian at ±3σ leaves 98.7% of its spread.
  return { background: mean, noise: sd / 0.9866 };
}

/** SMOOTH × SMOOTH box average by running sums: horizontal sums per row, then a running row of column sums so
 * both passes walk memory in order (a column-wise pass thrashes the cache). Integer sums are exact. The outer
 * SMOOTH_HALF-pixel border, where the box would leave the image, stays 0 so nothing is detected there. */
function boxSmooth(pixels: Uint16Array, width: number, height: number, rows: Int32Array, out: Float32Array): void {
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let sum = 0;
    for (let x = 0; x < SMOOTH; x++) sum += pixels[row + x]!;
    for (let x = SMOOTH_HALF; x < width - SMOOTH_HALF; x++) {
      rows[row + x] = sum;
      if (x + SMOOTH_HALF + 1 < width) sum += pixels[row + x + SMOOTH_HALF + 1]! - pixels[row + x - SMOOTH_HALF]!;
    }
  }
  const columns = new Int32Array(width);
  for (let y = 0; y < SMOOTH; y++) {
    for (let x = 0; x < width; x++) columns[x]! += rows[y * width + x]!;
  }
  const scale = 1 / (SMOOTH * SMOOTH);
  for (let y = SMOOTH_HALF; y < height - SMOOTH_HALF; y++) {
    const row = y * width;
    for (let x = SMOOTH_HALF; x < width - SMOOTH_HALF; x++) out[row + x] = columns[x]! * scale;
    if (y + SMOOTH_HALF + 1 < height) {
      const add = (y + SMOOTH_HALF + 1) * width;
      const drop = (y - SMOOTH_HALF) * width;
      for (let x = 0; x < width; x++) columns[x]! += rows[add + x]! - rows[drop + x]!;
    }
  }
}

type Blob = {
  label: number;
  /** Sum of background-subtracted pixel values over the blob; (cx, cy) is their weighted centroid. */
  weight: number;
  cx: number;
  cy: number;
  /** Farthest extent of the blob from its centroid (bounding box), px. */
  extent: number;
  maxValue: number;
};

/** Connected (8-neighbour) regions of the smoothed image above the threshold, labelled 1.. in `labels`. */
function findBlobs(work: WorkBuffers, pixels: Uint16Array, threshold: number, background: number): Blob[] & { labels: Int32Array } {
  const { width, height, smoothed, labels, scratch: stack } = work;
  labels.fill(0);
  const blobs: Blob[] = [];
  for (let start = 0; start < smoothed.length; start++) {
    if (labels[start] !== 0 || !(smoothed[start]! > threshold)) continue;
    const label = blobs.length + 1;
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    let weight = 0;
    let sx = 0;
    let sy = 0;
    let minX = width;
    let maxX = 0;
    let minY = height;
    let maxY = 0;
    let maxValue = 0;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      const v = pixels[i]!;
      const w = v - background;
      weight += w;
      sx += w * x;
      sy += w * y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      if (v > maxValue) maxValue = v;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (labels[j] === 0 && smoothed[j]! > threshold) {
            labels[j] = label;
            stack[top++] = j;
          }
        }
      }
    }
    const cx = weight > 0 ? sx / weight : (minX + maxX) / 2;
    const cy = weight > 0 ? sy / weight : (minY + maxY) / 2;
    const extent = Math.max(cx - minX, maxX - cx, cy - minY, maxY - cy) + 0.5;
    blobs.push({ label, weight, cx, cy, extent, maxValue });
  }
  return Object.assign(blobs, { labels });
}

/** A copy of the frame with lone bright pixels (hot pixels, cosmic-ray hits) replaced by the mean of their four
 * neighbours. Even a star sampled at σ = 0.5 px puts over 15% of its peak into its brightest neighbour; a defect
 * puts nothing there. Cleaning pixels rather than rejecting blobs keeps a star that happens to contain a defect. */
function withoutHotPixels(pixels: Uint16Array, width: number, height: number, background: number, noise: number, out: Uint16Array): Uint16Array {
  out.set(pixels);
  const spike = background + 5 * noise;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]!;
    if (v <= spike) continue;
    const x = i % width;
    const left = x > 0 ? pixels[i - 1]! : -1;
    const right = x < width - 1 ? pixels[i + 1]! : -1;
    const below = i >= width ? pixels[i - width]! : -1;
    const above = i < (height - 1) * width ? pixels[i + width]! : -1;
    if (Math.max(left, right, below, above) - background >= 0.15 * (v - background)) continue;
    // Neighbours beyond the frame (marked -1) drop out of the mean.
    let sum = 0;
    let count = 0;
    for (const n of [left, right, below, above]) {
      if (n >= 0) {
        sum += n;
        count++;
      }
    }
    out[i] = Math.round(sum / count);
  }
  return out;
}

/** Measures one blob: grows an aperture until the radial profile meets the sky, takes the local sky from a ring
 * just outside, refines the centroid, and reads the half-flux radius off the curve of growth. Pixels of other
 * blobs are ignored so neighbours do not leak in. Scratch arrays are allocated once per frame. */
class StarMeasurer {
  private readonly profileSum = new Float64Array(MAX_RADIUS + 2);
  private readonly profileCount = new Float64Array(MAX_RADIUS + 2);
  private readonly growth = new Float64Array(Math.ceil((MAX_RADIUS + 2) / BIN) + 2);
  private readonly ring = new Float32Array(Math.ceil(Math.PI * ((MAX_RADIUS + 6) ** 2 - MAX_RADIUS ** 2)) + 64);

  /** Which blob's star each blob's pixels belong to (by label); a blob starts out as its own. */
  private readonly owner: Int32Array;
  private readonly fragments = new Map<number, Blob[]>();

  constructor(
    private readonly pixels: Uint16Array,
    private readonly width: number,
    private readonly height: number,
    private readonly labels: Int32Array,
    blobCount: number,
    private readonly background: number,
    private readonly noise: number,
  ) {
    this.owner = new Int32Array(blobCount + 1);
    for (let l = 0; l <= blobCount; l++) this.owner[l] = l;
  }

  ownerOf(label: number): number {
    return this.owner[label]!;
  }

  absorb(fragment: Blob, into: number): void {
    this.owner[fragment.label] = into;
    const list = this.fragments.get(into);
    if (list) list.push(fragment);
    else this.fragments.set(into, [fragment]);
  }

  /** Measures the star of `blob` starting from the centre guess (cx, cy); null for stars whose visible profile
   * the frame's edge cuts, and for those without positive flux. */
  measure(blob: Blob, cx: number, cy: number): { x: number; y: number; flux: number; hfr: number; snr: number; edge: number } | null {
    const extent = Math.max(blob.extent, this.ownedExtent(blob.label, cx, cy));
    const edge = this.profileEdge(blob.label, extent, cx, cy);
    // Beyond the edge the profile is lost in the noise, but the faint wings there still hold several percent of
    // the light; without this margin the half-flux radius of faint, wide stars comes out ~5% small.
    const wanted = Math.min(MAX_RADIUS, edge * 1.5 + 2);
    const sky = this.localSky(blob.label, cx, cy, wanted);
    const refined = this.centroid(blob.label, cx, cy, Math.max(2, edge), sky);
    const x = refined?.x ?? cx;
    const y = refined?.y ?? cy;
    // Near the frame's edge the aperture may shrink, but not into the star's visible profile.
    const radius = Math.min(wanted, x + 0.5, y + 0.5, this.width - 0.5 - x, this.height - 0.5 - y);
    if (radius < edge + 1) return null;
    const half = this.halfFluxRadius(blob.label, x, y, radius, sky);
    if (half === null) return null;
    // The curve of growth sees the PSF blurred by the pixel (variance 1/12 px² per axis) and again by spreading
    // each central pixel evenly over its area; removing both (exactly, for a Gaussian) reports the optics' own HFR,
    // which matters for sharp stars of 1–2 px.
    const hfr2 = half.radius * half.radius - PIXEL_BLUR_R50_SQ;
    if (!(hfr2 > 0)) return null;
    return { x, y, flux: half.flux, hfr: Math.sqrt(hfr2), snr: half.flux / (this.noise * Math.sqrt(half.area)), edge };
  }

  /** How far the owned pixels of absorbed fragments reach from (cx, cy), judged by their own extents. */
  private ownedExtent(label: number, cx: number, cy: number): number {
    let extent = 0;
    for (const fragment of this.fragments.get(label) ?? []) {
      extent = Math.max(extent, Math.hypot(fragment.cx - cx, fragment.cy - cy) + fragment.extent);
    }
    return extent;
  }

  /** Radius (px) where the azimuthally averaged profile, followed outward from the blob's edge, first drops into
   * the sky noise. Starting at the blob's edge keeps a defocused "donut" with a dark centre from stopping early. */
  private profileEdge(label: number, extent: number, cx: number, cy: number): number {
    const limit = Math.min(MAX_RADIUS, Math.ceil(1.5 * extent + 8));
    const sum = this.profileSum;
    const count = this.profileCount;
    sum.fill(0, 0, limit + 1);
    count.fill(0, 0, limit + 1);
    this.forEachPixel(label, cx, cy, limit, (v, d) => {
      const b = Math.floor(d);
      sum[b]! += v - this.background;
      count[b]!++;
    });
    for (let b = Math.max(1, Math.floor(extent)); b < limit; b++) {
      const n = count[b]!;
      if (n > 0 && sum[b]! / n < (1.5 * this.noise) / Math.sqrt(n)) return b;
    }
    return limit;
  }

  /** Sigma-clipped mean of the ring [radius + 1, radius + 5] px, so a sky gradient does not bias the flux. */
  private localSky(label: number, cx: number, cy: number, radius: number): number {
    const ring = this.ring;
    let n = 0;
    const inner = radius + 1;
    this.forEachPixel(label, cx, cy, radius + 5, (v, d) => {
      if (d >= inner && n < ring.length) ring[n++] = v;
    });
    let level = this.background;
    for (let iteration = 0; iteration < 5; iteration++) {
      let sum = 0;
      let used = 0;
      const cut = 3 * this.noise;
      for (let k = 0; k < n; k++) {
        const v = ring[k]!;
        if (Math.abs(v - level) <= cut) {
          sum += v;
          used++;
        }
      }
      if (used < 8) return this.background;
      level = sum / used;
    }
    return level;
  }

  private centroid(label: number, cx: number, cy: number, radius: number, sky: number): { x: number; y: number } | null {
    let w = 0;
    let sx = 0;
    let sy = 0;
    this.forEachPixel(label, cx, cy, radius, (v, _d, x, y) => {
      const f = v - sky;
      w += f;
      sx += f * x;
      sy += f * y;
    });
    if (!(w > 0)) return null;
    const x = sx / w;
    const y = sy / w;
    // A noisy faint star can throw the weighted mean far off; then the blob's own centroid is the better guess.
    return Math.hypot(x - cx, y - cy) < radius / 2 ? { x, y } : null;
  }

  /** Curve of growth in BIN-wide rings out to `radius`, and the radius (interpolated) that holds half its total. */
  private halfFluxRadius(label: number, cx: number, cy: number, radius: number, sky: number): { radius: number; flux: number; area: number } | null {
    const bins = Math.ceil(radius / BIN) + 1;
    const growth = this.growth;
    growth.fill(0, 0, bins + 1);
    let area = 0;
    const inv = 1 / BIN;
    const subStep = 1 / SUB;
    const subWeight = 1 / (SUB * SUB);
    this.forEachPixel(label, cx, cy, radius, (v, d, x, y) => {
      const f = v - sky;
      area++;
      if (d >= SPLIT_RADIUS) {
        growth[Math.floor(d * inv)]! += f;
        return;
      }
      for (let sy = 0; sy < SUB; sy++) {
        const dy = y - 0.5 + (sy + 0.5) * subStep - cy;
        for (let sx = 0; sx < SUB; sx++) {
          const dx = x - 0.5 + (sx + 0.5) * subStep - cx;
          const b = Math.floor(Math.sqrt(dx * dx + dy * dy) * inv);
          if (b < bins) growth[b]! += f * subWeight;
        }
      }
    });
    let total = 0;
    for (let b = 0; b < bins; b++) total += growth[b]!;
    if (!(total > 0)) return null;
    let cumulative = 0;
    for (let b = 0; b < bins; b++) {
      const g = growth[b]!;
      if (cumulative + g >= total / 2 && g > 0) {
        return { radius: (b + (total / 2 - cumulative) / g) * BIN, flux: total, area };
      }
      cumulative += g;
    }
    return null;
  }

  /** Calls fn for every pixel whose centre lies within `radius` of (cx, cy), skipping other blobs' pixels. */
  private forEachPixel(label: number, cx: number, cy: number, radius: number, fn: (value: number, distance: number, x: number, y: number) => void): void {
    const x0 = Math.max(0, Math.ceil(cx - radius));
    const x1 = Math.min(this.width - 1, Math.floor(cx + radius));
    const y0 = Math.max(0, Math.ceil(cy - radius));
    const y1 = Math.min(this.height - 1, Math.floor(cy + radius));
    const r2 = radius * radius;
    for (let y = y0; y <= y1; y++) {
      const dy = y - cy;
      const row = y * this.width;
      for (let x = x0; x <= x1; x++) {
        const dx = x - cx;
        const d2 = dx * dx + dy * dy;
        if (d2 > r2) continue;
        const l = this.labels[row + x]!;
        if (l !== 0 && this.owner[l] !== label) continue;
        fn(this.pixels[row + x]!, Math.sqrt(d2), x, y);
      }
    }
  }
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
