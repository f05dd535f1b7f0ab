import type { Bias, EdgeHealth, GpioChip, GpioInputs } from "../gpio/chip";
import type { HalLog } from "../log";
import type { MountAxis } from "../mount";
import type { WireLatch } from "../serial/wire";
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

/** clear: open, motion allowed; tripped: closed; unknown: its edges are not being read (the reader thread failed),
 * so it counts as tripped until its level has been read again. */
export type SwitchState = "clear" | "tripped" | "unknown";

export interface LimitState {
  name: string;
  axis: "ra" | "dec";
  direction: LimitDirection;
  line: number;
  state: SwitchState;
  /** Why the state is unknown. */
  reason?: string;
  /** The switch refuses motion its way: tripped or unknown. */
  tripped: boolean;
}

interface Entry {
  s: LimitSwitch;
  bank: Bank;
  /** Its index in the bank's request (values() order). */
  index: number;
  /** The serial line's latch its reflex trips (null: the axis is not behind a serial line). */
  latch: WireLatch | null;
  state: SwitchState;
  reason?: string;
}

interface Bank {
  inputs: GpioInputs;
  entries: Entry[];
}

/** Binds limit-switch inputs to mount axes (DESIGN.md §4). The edge handler runs synchronously from the chip's
 * edge signal and halts the axis as its first action: nothing (no await, no logging, no network) comes before
 * the stop command reaches the motor controller.
 *
 * Every trip also trips the switch's latch on the axis' serial line (the reader thread's reflex has usually done so
 * already), and the line refuses motion starts into the switch until it is released here: after the switch reads
 * open again, counted from before that read, so a trip the reflex thread counts meanwhile keeps it. */
export class LimitGuard {
  readonly ra: LimitedAxis;
  readonly dec: LimitedAxis;
  private readonly entries: Entry[] = [];
  private readonly banks: Bank[] = [];

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
      const reflexes = switches.map((s) => axes[s.axis].stopReflex?.(s.direction, s.name) ?? null);
      const inputs = chip.requestInputs({
        consumer: "skynode-limits",
        lines: switches.map((s) => ({ offset: s.line, activeLow: s.active_low, bias: s.bias, edge: "both" as const, debounceUs: s.debounce_us })),
        // The chip's reader thread writes the stop itself: the trip below confirms it on the main thread.
        reflexes: switches.flatMap((s, i) => {
          const r = reflexes[i];
          return r ? [{ offset: s.line, ...r }] : [];
        }),
      });
      const bank: Bank = { inputs, entries: [] };
      bank.entries = switches.map((s, index) => ({ s, bank, index, latch: reflexes[index]?.latch ?? null, state: "clear" as SwitchState }));
      this.banks.push(bank);
      this.entries.push(...bank.entries);
      const byLine = new Map(bank.entries.map((e) => [e.s.line, e]));
      let lastSeqno = -1;
      inputs.edges.on((edge) => {
        const e = byLine.get(edge.offset);
        if (!e) return;
        if (edge.rising) this.trip(e, true);
        else this.opened(e);
        // Only after the stop: bookkeeping and logging.
        if (lastSeqno >= 0 && edge.seqno > lastSeqno + 1) {
          this.log.warn({ missed: edge.seqno - lastSeqno - 1 }, "limit-switch events were dropped by the kernel; re-reading levels");
          this.reread(bank);
        }
        lastSeqno = edge.seqno;
        if (edge.rising) this.log.warn({ limit: e.s.name, axis: e.s.axis, direction: e.s.direction }, "limit switch tripped: axis halted");
        else if (e.state === "clear") this.log.info({ limit: e.s.name, axis: e.s.axis }, "limit switch released");
      });
      inputs.health.on((h) => this.health(bank, h));
      // Powered on with a switch already closed: the axis may be moving (a controller that kept running), so stop it.
      const values = this.values(bank);
      if (values instanceof Error) {
        this.lose(bank, `the line levels could not be read: ${values.message}`);
        continue;
      }
      bank.entries.forEach((e, i) => {
        if (!values[i]) return;
        this.trip(e, true);
        log.warn({ limit: e.s.name, axis: e.s.axis, direction: e.s.direction }, "limit switch closed at start-up: motion that way is refused");
      });
    }
  }

  states(): LimitState[] {
    return this.entries.map(({ s, state, reason }) => ({
      name: s.name,
      axis: s.axis,
      direction: s.direction,
      line: s.line,
      state,
      ...(reason === undefined ? {} : { reason }),
      tripped: state !== "clear",
    }));
  }

  release(): void {
    for (const b of this.banks.splice(0)) b.inputs.release();
  }

  /** Closed (or, with `unknown`, unreadable): the stop first; a switch already refusing is not stopped again unless
   * it really closed again (`halt`), so a re-read does not interrupt an axis backing off. */
  private trip(e: Entry, halt: boolean, unknown?: string): void {
    e.latch?.trip();
    const stop = halt || e.state === "clear";
    // Two field writes before the stop, so that whoever the stop's change notification wakes reads the new state.
    e.state = unknown === undefined ? "tripped" : "unknown";
    e.reason = unknown;
    const axis = this.axis(e.s);
    if (stop) axis.trip(e.s.direction, e.s.name, unknown);
    else axis.refuse(e.s.direction, e.s.name, unknown);
  }

  /** A falling edge: cleared only if the line still reads open (an edge is history; a rising edge behind it may
   * already have tripped the latch on the reflex thread). */
  private opened(e: Entry): void {
    if (e.state === "clear") return;
    const through = e.latch?.trips() ?? 0;
    const values = this.values(e.bank);
    if (values instanceof Error) return this.lose(e.bank, `the line levels could not be read: ${values.message}`);
    if (!values[e.index]) this.clear(e, through);
  }

  /** Open, as read after `through` trips of its latch had been counted. */
  private clear(e: Entry, through: number): void {
    e.state = "clear";
    e.reason = undefined;
    e.latch?.release(through);
    // Another switch guarding the same way keeps the refusal.
    const other = this.entries.find((o) => o.state !== "clear" && o.s.axis === e.s.axis && o.s.direction === e.s.direction);
    if (other) this.axis(e.s).refuse(other.s.direction, other.s.name, other.reason);
    else this.axis(e.s).clear(e.s.direction);
  }

  private health(bank: Bank, h: EdgeHealth): void {
    if (!h.reading) return this.lose(bank, `GPIO reader failed (${h.reason})`);
    this.log.info({ limits: bank.entries.map((e) => e.s.name) }, "limit-switch edges are read again: re-reading levels");
    this.reread(bank);
  }

  /** Nothing is known of these switches any more: each counts as tripped, and its axis is halted. */
  private lose(bank: Bank, reason: string): void {
    for (const e of bank.entries) if (e.state !== "unknown" || e.reason !== reason) this.trip(e, e.state !== "unknown", reason);
    this.log.error({ limits: bank.entries.map((e) => e.s.name), reason }, "limit switches unknown: their axes are halted and motion towards them is refused");
  }

  /** After lost events, or a reader restarted, the edge history is unreliable: take the levels as they are now. */
  private reread(bank: Bank): void {
    const through = bank.entries.map((e) => e.latch?.trips() ?? 0);
    const values = this.values(bank);
    if (values instanceof Error) return this.lose(bank, `the line levels could not be read: ${values.message}`);
    bank.entries.forEach((e, i) => {
      if (values[i] && e.state !== "tripped") this.trip(e, e.state === "clear");
      else if (!values[i] && e.state !== "clear") this.clear(e, through[i]!);
    });
  }

  private values(bank: Bank): boolean[] | Error {
    try {
      return bank.inputs.values();
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  private axis(s: LimitSwitch): LimitedAxis {
    return s.axis === "ra" ? this.ra : this.dec;
  }
}
