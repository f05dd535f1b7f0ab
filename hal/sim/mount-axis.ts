import type { MountAxis } from "../mount";
import { SimPositioner, type SimPositionerOptions } from "./positioner";

/** A simulated mount axis: slews with the motor's acceleration and top speed, tracks at any rate. */
export class SimMountAxis extends SimPositioner implements MountAxis {
  constructor(
    readonly name: MountAxis["name"],
    opts: SimPositionerOptions,
  ) {
    super(opts);
  }

  get slewRate(): number {
    return this.opts.speed;
  }

  track(rate_deg_s: number): void {
    this.runAt(rate_deg_s);
  }

  halt(reason: string): void {
    this.haltNow(reason);
  }

  limit(): "positive" | "negative" | null {
    return null;
  }
}
