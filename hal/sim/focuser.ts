import type { Focuser } from "../focuser";
import { SimPositioner, type SimPositionerOptions } from "./positioner";

/** A simulated focuser with a stepper's resolution and speed, and a slowly drifting tube temperature. */
export class SimFocuser extends SimPositioner implements Focuser {
  constructor(opts: SimPositionerOptions & { step: number }) {
    super(opts);
  }

  get stepSize(): number {
    return this.opts.step ?? 1;
  }

  temperature(): number {
    // A gentle diurnal-like drift, so snapshots show a live value.
    return 12 + 2 * Math.sin(Date.now() / 3_600_000);
  }
}
