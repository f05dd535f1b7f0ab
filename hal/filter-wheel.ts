import type { Positioner } from "./motion";

/** A filter wheel: positions are slot numbers 1..slots; while turning, `position` is the slot passing by. */
export interface FilterWheel extends Positioner {
  readonly slots: number;
}
