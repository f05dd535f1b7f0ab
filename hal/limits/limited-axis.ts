import { DeviceError } from "../errors";
import type { LimitDirection, LimitReflex, MountAxis } from "../mount";
import type { MoveOutcome } from "../motion";
import type { Signal } from "../signal";

export type { LimitDirection };

/** Why motion one way is refused: the switch that tripped, or whose state is unknown (and why). */
interface Refusal {
  switchName: string;
  unknown?: string;
}

/** A mount axis behind its limit switches. A trip halts the inner axis before anything else happens (the halt
 * writes the controller's instant stop synchronously); while a switch is tripped (or cannot be read), motion towards
 * it is refused and motion away from it is allowed, which is how the axis gets back off the switch. */
export class LimitedAxis implements MountAxis {
  private readonly refused = new Map<LimitDirection, Refusal>();
  private wasConnected: boolean;

  constructor(private readonly inner: MountAxis) {
    this.wasConnected = inner.connected();
    // A switch that tripped while the axis could not be reached (cable pulled, controller off) got no stop: the
    // motor may be running on into it. It gets the instant stop as soon as the axis is back, before anything else.
    inner.changed.on(() => {
      const up = inner.connected();
      const back = up && !this.wasConnected;
      this.wasConnected = up;
      if (!back) return;
      const [direction, r] = [...this.refused][0] ?? [];
      if (direction && r) this.inner.halt(`${this.name} ${direction} limit switch "${r.switchName}" ${describe(r)} while the axis was unreachable`);
    });
  }

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

  /** A switch closed (or its state became unknown: `unknown` says why): stop first, then remember. */
  trip(direction: LimitDirection, switchName: string, unknown?: string): void {
    this.inner.halt(`${this.name} ${direction} limit switch "${switchName}" ${describe({ switchName, unknown })}`);
    this.refuse(direction, switchName, unknown);
  }

  /** Refuses motion `direction` without stopping (the axis was stopped already when the switch first tripped). */
  refuse(direction: LimitDirection, switchName: string, unknown?: string): void {
    const before = this.refused.get(direction);
    if (before?.switchName === switchName && before.unknown === unknown) return;
    this.refused.set(direction, unknown === undefined ? { switchName } : { switchName, unknown });
    this.inner.changed.emit();
  }

  /** No switch stops motion that way any more (the axis moved off it). */
  clear(direction: LimitDirection): void {
    if (this.refused.delete(direction)) this.inner.changed.emit();
  }

  limit(): LimitDirection | null {
    return this.refused.has("positive") ? "positive" : this.refused.has("negative") ? "negative" : null;
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

  stopReflex(direction: LimitDirection, switchName: string): LimitReflex | null {
    return this.inner.stopReflex?.(direction, switchName) ?? null;
  }

  private refusal(direction: LimitDirection): DeviceError | null {
    const r = this.refused.get(direction);
    if (r === undefined) return null;
    const where =
      r.unknown === undefined
        ? `is on its ${direction} limit switch "${r.switchName}"`
        : `cannot tell whether its ${direction} limit switch "${r.switchName}" is tripped (${r.unknown})`;
    return new DeviceError(
      "limit",
      `mount ${this.name} axis`,
      `the ${this.name} axis ${where}: motion further ${direction} is refused (move the other way to back off it)`,
      { axis: this.name, limit: direction, switch: r.switchName, state: r.unknown === undefined ? "tripped" : "unknown" },
    );
  }
}

const describe = (r: Refusal) => (r.unknown === undefined ? "tripped" : `cannot be read (${r.unknown})`);
