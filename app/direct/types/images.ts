import { statSync } from "node:fs";
import { z } from "zod";
import { renderPreview } from "../../imaging/preview";
import { bytesBody, fileBody } from "../body";
import { requestType } from "../catalog";
import { DirectFailure } from "../failure";
import { findImage, imageMetadata, type SkyNodeDirectContext } from "./context";

const ImageId = z.string().min(1).max(200);

/** `image.fetch` `{image_id?}` → `image/fits`: the stored FITS file, byte for byte (absent id = the latest image).
 * metadata: `image_id`, `created_at`, `width`, `height`, `bitpix` and the exposure's other fields. */
export const imageFetch = requestType({
  type: "image.fetch",
  doc: "The stored FITS file of an image (absent image_id: the telescope's latest). image/fits; metadata: image_id, created_at, width, height, bitpix, exposure fields.",
  payload: z.strictObject({ image_id: ImageId.optional() }),
  handle(p, ctx: SkyNodeDirectContext) {
    const image = findImage(ctx, p.image_id);
    return fileBody("image/fits", image.path, imageMetadata(image));
  },
});

/** `image.list` `{limit?}` → `application/json` `{telescope_uid, images:[{image_id, created_at, size_bytes, …}]}`,
 * newest first. */
export const imageList = requestType({
  type: "image.list",
  doc: "The telescope's stored images, newest first. application/json {telescope_uid, images: [{image_id, created_at, size_bytes, width, height, …}]}; metadata: count.",
  payload: z.strictObject({ limit: z.int().min(1).max(1000).default(100) }),
  handle(p, ctx: SkyNodeDirectContext) {
    const images = ctx.images.list(ctx.telescopeUid, p.limit).map((image) => {
      let size_bytes: number | null = null;
      try {
        size_bytes = statSync(image.path).size;
      } catch {
        // Listed but gone from the disk: say so rather than hide it.
      }
      return { ...imageMetadata(image), size_bytes };
    });
    const json = Buffer.from(JSON.stringify({ telescope_uid: ctx.telescopeUid, images }));
    return bytesBody("application/json", json, { count: images.length });
  },
});

/** `image.preview` `{image_id?, max_size?}` → `image/png`: an 8-bit grayscale thumbnail, auto-stretched (midtones
 * transfer function), its longer side at most `max_size` (default 256) pixels. */
export const imagePreview = requestType({
  type: "image.preview",
  doc: "A small auto-stretched 8-bit grayscale PNG of an image (absent image_id: the latest), longer side ≤ max_size px (16-1024, default 256). image/png; metadata: image_id, width, height, source_width, source_height, stretch.",
  payload: z.strictObject({ image_id: ImageId.optional(), max_size: z.int().min(16).max(1024).default(256) }),
  async handle(p, ctx: SkyNodeDirectContext) {
    const image = findImage(ctx, p.image_id);
    return bytesBody("image/png", ...(await previewOf(image.path, image.image_id, p.max_size)));
  },
});

/** The PNG preview of a stored FITS file and its metadata (shared with the HTTP route). */
export async function previewOf(path: string, imageId: string, maxSize: number): Promise<[Uint8Array, Record<string, unknown>]> {
  let fits: Uint8Array;
  try {
    fits = await Bun.file(path).bytes();
  } catch (err) {
    throw new DirectFailure("internal", `cannot read the stored image: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const { png, ...dims } = renderPreview(fits, { maxSize });
    return [png, { image_id: imageId, ...dims }];
  } catch (err) {
    throw new DirectFailure("internal", `the stored image cannot be decoded: ${(err as Error).message}`);
  }
}
