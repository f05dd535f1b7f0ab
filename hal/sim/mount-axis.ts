import { DeviceError } from "../errors";
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

  checkMove(position: number): void {
    if (!(position >= this.range.min && position <= this.range.max)) {
      throw new DeviceError("range", `mount ${this.name} axis`, `the ${this.name} axis cannot go to ${position}°: its range is ${this.range.min}..${this.range.max}°`);
    }
  }

  halt(reason: string): void {
    this.haltNow(reason);
  }

  limit(): "positive" | "negative" | null {
    return null;
  }
}
