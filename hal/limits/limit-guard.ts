import type { Bias, GpioChip, GpioInputs } from "../gpio/chip";
import type { HalLog } from "../log";
import type { MountAxis } from "../mount";
import { LimitedAxis, type LimitDirection } from "./limited-axis";

export interface LimitSwitch {
  name: string;
  axis: "ra" | "dec";
  direction: LimitDirection;
  line: number;
  active_low: boolean;
  bias: Bias;
  debounce_us: number;
}

export interface LimitState {
  name: string;
  axis: "ra" | "dec";
  direction: LimitDirection;
  line: number;
  tripped: boolean;
}

/** Binds limit-switch inputs to mount axes (DESIGN.md §4). The edge handler runs synchronously from the chip's
 * edge signal and halts the axis as its first action: nothing (no await, no logging, no network) comes before
 * the stop command reaches the motor controller. */
export class LimitGuard {
  readonly ra: LimitedAxis;
  readonly dec: LimitedAxis;
  private readonly switches: LimitSwitch[] = [];
  private readonly requests: { inputs: GpioInputs; switches: LimitSwitch[] }[] = [];
  private readonly tripped = new Set<LimitSwitch>();

  /** `banks`: the switches on each GPIO chip. */
  constructor(
    banks: { chip: GpioChip; switches: LimitSwitch[] }[],
    axes: { ra: MountAxis; dec: MountAxis },
    private readonly log: HalLog,
  ) {
    this.ra = new LimitedAxis(axes.ra);
    this.dec = new LimitedAxis(axes.dec);
    for (const { chip, switches } of banks) {
      if (switches.length === 0) continue;
      const inputs = chip.requestInputs({
        consumer: "skynode-limits",
        lines: switches.map((s) => ({ offset: s.line, activeLow: s.active_low, bias: s.bias, edge: "both" as const, debounceUs: s.debounce_us })),
        // The chip's reader thread writes the stop itself: the trip below confirms it on the main thread.
        reflexes: switches.flatMap((s) => {
          const r = axes[s.axis].stopReflex?.();
          return r ? [{ offset: s.line, ...r }] : [];
        }),
      });
      const request = { inputs, switches };
      this.requests.push(request);
      this.switches.push(...switches);
      const byLine = new Map(switches.map((s) => [s.line, s]));
      let lastSeqno = -1;
      inputs.edges.on((edge) => {
        const s = byLine.get(edge.offset);
        if (!s) return;
        if (edge.rising) this.trip(s);
        else this.clear(s);
        // Only after the stop: bookkeeping and logging.
        if (lastSeqno >= 0 && edge.seqno > lastSeqno + 1) {
          this.log.warn({ missed: edge.seqno - lastSeqno - 1 }, "limit-switch events were dropped by the kernel; re-reading levels");
          this.resync(request);
        }
        lastSeqno = edge.seqno;
        if (edge.rising) this.log.warn({ limit: s.name, axis: s.axis, direction: s.direction }, "limit switch tripped: axis halted");
        else this.log.info({ limit: s.name, axis: s.axis }, "limit switch released");
      });
      // Powered on with a switch already closed: the axis may be moving (a controller that kept running), so stop it.
      const values = inputs.values();
      switches.forEach((s, i) => {
        if (!values[i]) return;
        this.trip(s);
        log.warn({ limit: s.name, axis: s.axis, direction: s.direction }, "limit switch closed at start-up: motion that way is refused");
      });
    }
  }

  states(): LimitState[] {
    return this.switches.map((s) => ({ name: s.name, axis: s.axis, direction: s.direction, line: s.line, tripped: this.tripped.has(s) }));
  }

  release(): void {
    for (const r of this.requests.splice(0)) r.inputs.release();
  }

  private trip(s: LimitSwitch): void {
    this.axis(s).trip(s.direction, s.name);
    this.tripped.add(s);
  }

  private clear(s: LimitSwitch): void {
    this.tripped.delete(s);
    // Another closed switch guarding the same way keeps the refusal.
    const still = [...this.tripped].some((o) => o.axis === s.axis && o.direction === s.direction);
    if (!still) this.axis(s).clear(s.direction);
  }

  /** After lost events the edge history is unreliable: take the levels as they are now. */
  private resync(request: { inputs: GpioInputs; switches: LimitSwitch[] }): void {
    const values = request.inputs.values();
    request.switches.forEach((s, i) => {
      if (values[i] && !this.tripped.has(s)) this.trip(s);
      else if (!values[i] && this.tripped.has(s)) this.clear(s);
    });
  }

  private axis(s: LimitSwitch): LimitedAxis {
    return s.axis === "ra" ? this.ra : this.dec;
  }
}
