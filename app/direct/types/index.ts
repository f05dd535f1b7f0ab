import { imageFetch, imageList, imagePreview } from "./images";
import { logExport } from "./log-export";

/** Every request type a SkyNode answers (each documented in its own module). */
export const skynodeRequestTypes = [imageFetch, imageList, imagePreview, logExport];
export type { SkyNodeDirectContext } from "./context";
export { previewOf } from "./images";
