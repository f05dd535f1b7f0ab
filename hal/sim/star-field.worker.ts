/** Worker entry of StarFieldThread (star-field-thread.ts): renders one frame per request, in arrival order, and
 * hands the pixel buffer back by transfer. A failed render is answered, not thrown, so only that frame fails. */

import type { RenderReply, RenderRequest } from "./star-field-thread";
import { renderStarField } from "./star-field";

declare var self: Worker;

self.onmessage = (event: MessageEvent<RenderRequest>) => {
  const { id, opts } = event.data;
  let pixels: Uint16Array<ArrayBuffer>;
  try {
    pixels = renderStarField(opts);
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies RenderReply);
    return;
  }
  self.postMessage({ id, pixels } satisfies RenderReply, [pixels.buffer]);
};
