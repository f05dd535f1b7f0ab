import type { Positioner } from "./motion";

/** An instrument rotator: position angle in degrees within its mechanical range (no wrap: cables). */
export interface Rotator extends Positioner {
  readonly range: { min: number; max: number };
}
