/** Screen stretch of 16-bit images, the way PixInsight's ScreenTransferFunction auto-stretch does it: box
 * downsampling, median/MAD from histograms, shadows clip and the midtones transfer function. Pure and
 * browser-safe: the thumbnails (preview.ts) and the web UI's image viewer share it. */

/** The stretch applied, on pixel values normalised to [0, 1]: clip below `shadows`, above `highlights`, then the
 * midtones transfer function with balance `midtone`. */
export type Stretch = { shadows: number; midtone: number; highlights: number };

const FULL_SCALE = 65535;
/** PixInsight's auto-stretch defaults: shadows clipped 2.8 σ below the median, the median shown at 25 % grey. */
const SHADOWS_CLIP_SIGMA = 2.8;
const TARGET_BACKGROUND = 0.25;
/** MAD → σ for normally distributed noise. */
const MAD_TO_SIGMA = 1.4826;

/** Midtones transfer function: 0 → 0, m → 0.5, 1 → 1. Clamping x first keeps the m = 0 and m = 1 ends finite. */
export function mtf(x: number, m: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return ((m - 1) * x) / ((2 * m - 1) * x - m);
}

/** Means of factor×factor boxes; the last row and column of boxes may be partial, so odd sizes lose no pixels and
 * a thin strip still keeps at least one output pixel across. */
export function downsample(pixels: Uint16Array, width: number, height: number, factor: number) {
  if (factor === 1) return { width, height, values: Float64Array.from(pixels) };
  const w = Math.ceil(width / factor);
  const h = Math.ceil(height / factor);
  const values = new Float64Array(w * h);
  const column = new Int32Array(width);
  for (let x = 0; x < width; x++) column[x] = Math.floor(x / factor);
  for (let y = 0; y < height; y++) {
    const out = Math.floor(y / factor) * w;
    const row = y * width;
    for (let x = 0; x < width; x++) values[out + column[x]!]! += pixels[row + x]!;
  }
  for (let oy = 0; oy < h; oy++) {
    const boxHeight = Math.min(factor, height - oy * factor);
    for (let ox = 0; ox < w; ox++) values[oy * w + ox]! /= boxHeight * Math.min(factor, width - ox * factor);
  }
  return { width: w, height: h, values };
}

/** The median of the values counted in `histogram` (bin index = value), the two middle ones averaged when n is even. */
function histogramMedian(histogram: Uint32Array, n: number): number {
  const lowRank = (n - 1) >> 1;
  const highRank = n >> 1;
  let seen = 0;
  let low = -1;
  for (let v = 0; v < histogram.length; v++) {
    seen += histogram[v]!;
    if (low < 0 && seen > lowRank) low = v;
    if (seen > highRank) return (low + v) / 2;
  }
  throw new Error("histogramMedian: fewer than n values counted");
}

/** Median and MAD in ADU of the box means rounded to whole ADU, so that histograms give them exactly without a sort. */
function medianAndMad(values: Float64Array): { median: number; mad: number } {
  const n = values.length;
  const rounded = new Uint16Array(n);
  const histogram = new Uint32Array(FULL_SCALE + 1);
  for (let i = 0; i < n; i++) {
    const v = Math.round(values[i]!);
    rounded[i] = v;
    histogram[v]!++;
  }
  const median = histogramMedian(histogram, n);
  // The median may end in .5, so deviations are counted in half-ADU steps to stay whole bins.
  const deviations = new Uint32Array(2 * FULL_SCALE + 1);
  const twiceMedian = 2 * median;
  for (let i = 0; i < n; i++) deviations[Math.abs(2 * rounded[i]! - twiceMedian)]!++;
  return { median, mad: histogramMedian(deviations, n) / 2 };
}

export function autoStretch(values: Float64Array): Stretch {
  const { median, mad } = medianAndMad(values);
  // A flat image (or one mostly at a single value) has MAD 0, which would put the shadows on the median and make
  // the midtone balance 0, i.e. 0/0 at the median; one ADU of spread instead shows it at the target grey.
  const sigma = (MAD_TO_SIGMA * (mad > 0 ? mad : 1)) / FULL_SCALE;
  const normalisedMedian = median / FULL_SCALE;
  const shadows = Math.max(0, normalisedMedian - SHADOWS_CLIP_SIGMA * sigma);
  return { shadows, midtone: mtf(normalisedMedian - shadows, TARGET_BACKGROUND), highlights: 1 };
}

export function applyStretch(values: Float64Array, { shadows, midtone, highlights }: Stretch): Uint8Array {
  const out = new Uint8Array(values.length);
  const scale = 1 / (highlights - shadows);
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.round(255 * mtf((values[i]! / FULL_SCALE - shadows) * scale, midtone));
  }
  return out;
}

