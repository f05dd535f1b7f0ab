import type { FilterWheel } from "../filter-wheel";
import type { MoveOutcome } from "../motion";
import { SimPositioner } from "./positioner";

/** A simulated filter wheel: turns slot by slot at `seconds_per_slot`, reporting the slot passing by. */
export class SimFilterWheel extends SimPositioner implements FilterWheel {
  constructor(
    readonly slots: number,
    seconds_per_slot: number,
    slot = 1,
  ) {
    // Constant speed between slots: a large acceleration makes the trapezoid a plain ramp-free move.
    super({ position: slot, min: 1, max: slots, speed: 1 / seconds_per_slot, accel: 1000, step: 1 });
  }

  override moveTo(slot: number): Promise<MoveOutcome> {
    if (!Number.isInteger(slot)) return Promise.reject(new RangeError(`slot ${slot} is not a whole number`));
    return super.moveTo(slot);
  }
}
