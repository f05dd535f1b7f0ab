import { describe, expect, test } from "bun:test";
import { inflateSync } from "node:zlib";
import { encodeFits } from "../../app/imaging/fits";
import { renderPreview } from "../../app/imaging/preview";

/** Bit-at-a-time CRC-32 (ISO-HDLC, reflected 0xEDB88320), independent of the module's. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

type DecodedPng = { width: number; height: number; gray: Uint8Array; chunkTypes: string[] };

/** A strict decoder for exactly what a grayscale 8-bit, non-interlaced, filter-0 PNG needs: every chunk's CRC is
 * checked, IHDR must come first and IEND last. */
function decodePng(png: Uint8Array): DecodedPng {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunkTypes: string[] = [];
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  let offset = 8;
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    expect(data.length).toBe(length);
    expect(view.getUint32(offset + 8 + length)).toBe(crc32(png.subarray(offset + 4, offset + 8 + length)));
    chunkTypes.push(type);
    if (type === "IHDR") {
      expect(length).toBe(13);
      const header = new DataView(data.buffer, data.byteOffset, 13);
      width = header.getUint32(0);
      height = header.getUint32(4);
      expect(Array.from(data.subarray(8))).toEqual([8, 0, 0, 0, 0]); // depth 8, grayscale, deflate, filter, no interlace
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") expect(length).toBe(0);
    offset += 12 + length;
  }
  expect(offset).toBe(png.length);
  expect(chunkTypes[0]).toBe("IHDR");
  expect(chunkTypes.at(-1)).toBe("IEND");
  expect(width).toBeGreaterThan(0);
  expect(height).toBeGreaterThan(0);

  const compressed = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  idat.reduce((at, d) => (compressed.set(d, at), at + d.length), 0);
  const raw = new Uint8Array(inflateSync(compressed));
  expect(raw.length).toBe((width + 1) * height);
  const gray = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width + 1)]).toBe(0);
    gray.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, gray, chunkTypes };
}

/** mulberry32: a small seeded generator so the noise is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Star = { x: number; y: number; peak: number };

/** A sky background with Gaussian read noise plus Gaussian stars (σ in px), clipped to 16 bits. */
function starField(width: number, height: number, stars: Star[], background = 1000, noise = 20, sigma = 2.5, seed = 7) {
  const random = rng(seed);
  const pixels = new Uint16Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const gauss = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    pixels[i] = Math.max(0, Math.min(65535, Math.round(background + noise * gauss)));
  }
  const reach = Math.ceil(5 * sigma);
  for (const { x: sx, y: sy, peak } of stars) {
    for (let y = Math.max(0, Math.floor(sy) - reach); y <= Math.min(height - 1, Math.floor(sy) + reach); y++) {
      for (let x = Math.max(0, Math.floor(sx) - reach); x <= Math.min(width - 1, Math.floor(sx) + reach); x++) {
        const v = pixels[y * width + x]! + peak * Math.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * sigma * sigma));
        pixels[y * width + x] = Math.min(65535, Math.round(v));
      }
    }
  }
  return pixels;
}

const fitsOf = (width: number, height: number, pixels: Uint16Array) => encodeFits({ width, height, pixels }, []);

const STARS: Star[] = [
  { x: 200.3, y: 150.6, peak: 30000 },
  { x: 512.5, y: 384.5, peak: 20000 },
  { x: 800.2, y: 600.8, peak: 8000 },
  { x: 90.7, y: 700.1, peak: 50000 },
  { x: 950.4, y: 80.9, peak: 15000 },
];
const FIELD = fitsOf(1024, 768, starField(1024, 768, STARS));

function median(values: ArrayLike<number>): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

describe("renderPreview", () => {
  test("a 1024×768 star field becomes a valid 256×192 PNG with the background at 25 % grey and stars bright", () => {
    const preview = renderPreview(FIELD);
    const png = decodePng(preview.png);
    expect(png.chunkTypes).toEqual(["IHDR", "IDAT", "IEND"]);
    expect([png.width, png.height]).toEqual([256, 192]);
    expect([preview.width, preview.height, preview.source_width, preview.source_height]).toEqual([256, 192, 1024, 768]);

    const background = median(png.gray);
    expect(Math.abs(background - 0.25 * 255)).toBeLessThanOrEqual(15);
    for (const { x, y } of STARS) {
      const centre = png.gray[Math.floor(y / 4) * 256 + Math.floor(x / 4)]!;
      expect(centre).toBeGreaterThan(background + 100);
    }
    // A corner far from every star is background.
    expect(Math.abs(png.gray[10 * 256 + 128]! - background)).toBeLessThan(40);

    const { shadows, midtone, highlights } = preview.stretch;
    expect(shadows).toBeGreaterThan(0);
    expect(shadows).toBeLessThan(1000 / 65535);
    expect(midtone).toBeGreaterThan(0);
    expect(midtone).toBeLessThan(0.5); // a dark sky is brightened
    expect(highlights).toBe(1);
  });

  test("the longer side is at most maxSize and the aspect ratio is kept", () => {
    for (const [maxSize, width, height] of [
      [100, 94, 70], // factor ceil(1024/100) = 11
      [512, 512, 384],
      [300, 256, 192], // factor 4: 1024/300 rounds up
      [2048, 1024, 768], // never enlarged
    ] as const) {
      const preview = renderPreview(FIELD, { maxSize });
      const png = decodePng(preview.png);
      expect([png.width, png.height]).toEqual([width, height]);
      expect(Math.max(png.width, png.height)).toBeLessThanOrEqual(maxSize);
      expect(png.width / png.height).toBeCloseTo(1024 / 768, 1);
    }
  });

  test("maxSize is clamped to 16..2048", () => {
    const tiny = decodePng(renderPreview(FIELD, { maxSize: 1 }).png);
    expect([tiny.width, tiny.height]).toEqual([16, 12]);
    const big = fitsOf(4100, 10, new Uint16Array(41000).fill(1000));
    expect(renderPreview(big, { maxSize: 100000 }).width).toBe(1367); // factor ceil(4100/2048) = 3
  });

  test("the stretch follows the PixInsight auto-stretch formulas (median, MAD by sorting here)", () => {
    const width = 200;
    const height = 150; // even pixel count: the median is the mean of the two middle values
    const pixels = starField(width, height, [{ x: 100, y: 75, peak: 20000 }], 3000, 40, 2, 11);
    const preview = renderPreview(fitsOf(width, height, pixels));
    expect([preview.width, preview.height]).toEqual([width, height]); // small enough to stay as is

    const med = median(pixels);
    const mad = median(Array.from(pixels, (v) => Math.abs(v - med)));
    const mtf = (x: number, m: number) => ((m - 1) * x) / ((2 * m - 1) * x - m);
    const c0 = Math.max(0, (med - 2.8 * 1.4826 * mad) / 65535);
    const m = mtf(med / 65535 - c0, 0.25);
    expect(preview.stretch.shadows).toBeCloseTo(c0, 12);
    expect(preview.stretch.midtone).toBeCloseTo(m, 12);

    const gray = decodePng(preview.png).gray;
    for (const i of [0, 1234, 75 * width + 100, pixels.length - 1]) {
      const x = (pixels[i]! / 65535 - c0) / (1 - c0);
      const expected = x <= 0 ? 0 : Math.round(255 * Math.min(1, mtf(x, m)));
      expect(gray[i]).toBe(expected);
    }
  });

  test("downsampling averages boxes: a checkerboard becomes flat", () => {
    const pixels = new Uint16Array(64 * 64).map((_, i) => ((i % 64) + (i >> 6)) % 2 ? 3000 : 1000);
    const preview = renderPreview(fitsOf(64, 64, pixels), { maxSize: 16 });
    const png = decodePng(preview.png);
    expect([png.width, png.height]).toEqual([16, 16]);
    expect(new Set(png.gray).size).toBe(1);
  });

  test("a flat image gives a finite stretch and one uniform grey; an all-zero one is black", () => {
    for (const [value, grey] of [
      [1000, 64],
      [3, 64],
      [65535, 255],
      [0, 0],
    ] as const) {
      const preview = renderPreview(fitsOf(300, 200, new Uint16Array(300 * 200).fill(value)));
      for (const v of Object.values(preview.stretch)) expect(Number.isFinite(v)).toBe(true);
      const png = decodePng(preview.png);
      expect(new Set(png.gray)).toEqual(new Set([grey]));
    }
  });

  test("odd sizes: 1×1, 3×1000 and partial edge boxes", () => {
    const one = renderPreview(fitsOf(1, 1, new Uint16Array([1234])));
    const onePng = decodePng(one.png);
    expect([onePng.width, onePng.height, one.source_width, one.source_height]).toEqual([1, 1, 1, 1]);
    // Like PixInsight, the midtone balance is taken from median − c0 before rescaling by 1 − c0, so a flat image
    // lands just above the 25 % target: 65 here.
    expect(Math.abs(onePng.gray[0]! - 64)).toBeLessThanOrEqual(1);

    const strip = starField(3, 1000, [{ x: 1, y: 500, peak: 30000 }]);
    const thin = renderPreview(fitsOf(3, 1000, strip));
    const thinPng = decodePng(thin.png);
    expect([thinPng.width, thinPng.height]).toEqual([1, 250]); // factor 4; the 3-wide box is partial
    expect(thinPng.gray[125]!).toBeGreaterThan(median(thinPng.gray) + 100);

    // 1003 × 37 at maxSize 100: factor 11, the last column of boxes is 2 px wide, the last row 4 px high.
    const ragged = decodePng(renderPreview(fitsOf(1003, 37, starField(1003, 37, [])), { maxSize: 100 }).png);
    expect([ragged.width, ragged.height]).toEqual([92, 4]);
  });

  test("what decodeFits refuses propagates as its error", () => {
    expect(() => renderPreview(new Uint8Array(100))).toThrow(/FITS header has no END card/);
    expect(() => renderPreview(FIELD.subarray(0, 2880 + 100))).toThrow(/FITS data is truncated/);
  });
});
