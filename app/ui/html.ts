import htm from "htm";
import { h } from "preact";

/** JSX-like templates without a build step of their own (Bun bundles the page). */
export const html = htm.bind(h);
export type Snap = Record<string, any>;
