import { decodeFits, type FitsValue } from "../imaging/fits";
import { applyStretch, autoStretch, downsample } from "../imaging/stretch";

export interface ShownImage {
  width: number;
  height: number;
  cards: [string, FitsValue][];
  histogram: Uint32Array;
}

/** Decodes a FITS file in the browser and draws it auto-stretched (the same midtones transfer function as the
 * thumbnails) at full resolution on `canvas`; returns its header cards and a 256-bin histogram of the stretch. */
export function drawFits(canvas: HTMLCanvasElement, bytes: Uint8Array): ShownImage {
  const image = decodeFits(bytes);
  const full = downsample(image.pixels, image.width, image.height, 1);
  const gray = applyStretch(full.values, autoStretch(downsample(image.pixels, image.width, image.height, Math.max(1, Math.ceil(Math.max(image.width, image.height) / 512))).values));
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext("2d")!;
  const rgba = ctx.createImageData(image.width, image.height);
  const histogram = new Uint32Array(256);
  for (let i = 0; i < gray.length; i++) {
    const v = gray[i]!;
    histogram[v]!++;
    rgba.data[i * 4] = rgba.data[i * 4 + 1] = rgba.data[i * 4 + 2] = v;
    rgba.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
  return { width: image.width, height: image.height, cards: [...image.cards], histogram };
}
