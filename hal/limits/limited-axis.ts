import { DeviceError } from "../errors";
import type { MountAxis } from "../mount";
import type { MoveOutcome } from "../motion";
import type { Signal } from "../signal";

export type LimitDirection = "positive" | "negative";

/** A mount axis behind its limit switches. A trip halts the inner axis before anything else happens (the halt
 * writes the controller's instant stop synchronously); while a switch is tripped, motion towards it is refused
 * and motion away from it is allowed, which is how the axis gets back off the switch. */
export class LimitedAxis implements MountAxis {
  private readonly tripped = new Map<LimitDirection, string>();

  constructor(private readonly inner: MountAxis) {}

  get name(): MountAxis["name"] {
    return this.inner.name;
  }
  get range(): MountAxis["range"] {
    return this.inner.range;
  }
  get slewRate(): number {
    return this.inner.slewRate;
  }
  get changed(): Signal<void> {
    return this.inner.changed;
  }

  status() {
    return this.inner.status();
  }
  connected(): boolean {
    return this.inner.connected();
  }

  /** A switch closed: stop first, then remember. */
  trip(direction: LimitDirection, switchName: string): void {
    this.inner.halt(`${this.name} ${direction} limit switch "${switchName}" tripped`);
    this.tripped.set(direction, switchName);
    this.inner.changed.emit();
  }

  /** A switch opened again (the axis moved off it). */
  clear(direction: LimitDirection): void {
    if (this.tripped.delete(direction)) this.inner.changed.emit();
  }

  limit(): LimitDirection | null {
    return this.tripped.has("positive") ? "positive" : this.tripped.has("negative") ? "negative" : null;
  }

  checkMove(position: number): void {
    const from = this.inner.status().position;
    if (position !== from) {
      const refusal = this.refusal(position > from ? "positive" : "negative");
      if (refusal) throw refusal;
    }
    this.inner.checkMove(position);
  }

  moveTo(position: number): Promise<MoveOutcome> {
    try {
      this.checkMove(position);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.inner.moveTo(position);
  }

  track(rate_deg_s: number): void {
    if (rate_deg_s !== 0) {
      const refusal = this.refusal(rate_deg_s > 0 ? "positive" : "negative");
      if (refusal) throw refusal;
    }
    this.inner.track(rate_deg_s);
  }

  stop(reason?: string): Promise<void> {
    return this.inner.stop(reason);
  }

  halt(reason: string): void {
    this.inner.halt(reason);
  }

  stopReflex(): ReturnType<NonNullable<MountAxis["stopReflex"]>> {
    return this.inner.stopReflex?.() ?? null;
  }

  private refusal(direction: LimitDirection): DeviceError | null {
    const name = this.tripped.get(direction);
    if (name === undefined) return null;
    return new DeviceError(
      "limit",
      `mount ${this.name} axis`,
      `the ${this.name} axis is on its ${direction} limit switch "${name}": motion further ${direction} is refused (move the other way to back off it)`,
      { axis: this.name, limit: direction, switch: name },
    );
  }
}
