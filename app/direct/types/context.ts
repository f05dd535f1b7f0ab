import type { ImageIndex, ImageRecord } from "../../store/images";
import { DirectFailure } from "../failure";

/** What a SkyNode's request types read. */
export interface SkyNodeDirectContext {
  telescopeUid: string;
  images: ImageIndex;
  /** The SkyNode's own log file (NDJSON); `flush` writes out lines still buffered. */
  log: { path: string; flush(): void };
}

/** The image `image_id` names, or the telescope's latest: `not_found` when there is none. */
export function findImage(ctx: SkyNodeDirectContext, imageId: string | undefined): ImageRecord {
  const image = imageId === undefined ? ctx.images.latest(ctx.telescopeUid) : ctx.images.get(imageId);
  if (!image || image.telescope_uid !== ctx.telescopeUid) {
    throw new DirectFailure(
      "not_found",
      imageId === undefined ? `telescope ${ctx.telescopeUid} has no stored image yet` : `no image ${imageId} on telescope ${ctx.telescopeUid}`,
    );
  }
  return image;
}

export const imageMetadata = (image: ImageRecord) => ({
  image_id: image.image_id,
  created_at: new Date(image.created_at).toISOString(),
  ...image.meta,
});
