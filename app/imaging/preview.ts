/** Thumbnails of stored FITS images (`image.preview`, `GET /v1/images/{id}.png`): box-downsampled, auto-stretched
 * the way PixInsight's ScreenTransferFunction auto-stretch does, and written as an 8-bit grayscale PNG. */
import { deflateSync } from "node:zlib";
import { decodeFits } from "./fits";
import { applyStretch, autoStretch, downsample, type Stretch } from "./stretch";

export type PreviewOptions = { maxSize?: number };
export type PreviewStretch = Stretch;
export type Preview = {
  png: Uint8Array;
  width: number;
  height: number;
  source_width: number;
  source_height: number;
  stretch: PreviewStretch;
};

const DEFAULT_MAX_SIZE = 256;
const MIN_MAX_SIZE = 16;
const MAX_MAX_SIZE = 2048;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Length, type, data, then the CRC-32 of type and data (Bun.hash.crc32 is the standard ISO-HDLC CRC PNG uses). */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function encodeGrayPng(gray: Uint8Array, width: number, height: number): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth; colour type 0 (grayscale), deflate, adaptive filtering, no interlace are all 0
  // Filter type 0 on every row: at thumbnail sizes the better compression of per-row filter choice is not worth it.
  const scanlines = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) scanlines.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [
    Uint8Array.from(PNG_SIGNATURE),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(scanlines)), // zlib-wrapped, as IDAT requires
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A grayscale PNG of a 16-bit FITS image, at most `maxSize` (default 256, clamped to 16..2048) on its longer side.
 * Errors from decodeFits propagate unchanged. */
export function renderPreview(fits: Uint8Array, opts: PreviewOptions = {}): Preview {
  const image = decodeFits(fits);
  const requested = opts.maxSize ?? DEFAULT_MAX_SIZE;
  const maxSize = Number.isNaN(requested)
    ? DEFAULT_MAX_SIZE
    : Math.min(MAX_MAX_SIZE, Math.max(MIN_MAX_SIZE, Math.floor(requested)));
  const factor = Math.max(1, Math.ceil(Math.max(image.width, image.height) / maxSize));
  const small = downsample(image.pixels, image.width, image.height, factor);
  const stretch = autoStretch(small.values);
  return {
    png: encodeGrayPng(applyStretch(small.values, stretch), small.width, small.height),
    width: small.width,
    height: small.height,
    source_width: image.width,
    source_height: image.height,
    stretch,
  };
}
