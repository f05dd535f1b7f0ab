import type { Signal } from "../signal";
import type { SimGpioChip } from "./gpio-chip";

/** What the wiring needs to know of a simulated axis' physical motion. */
export interface AxisProbe {
  /** The axis angle now (degrees). */
  angle(): number;
  /** Its signed speed now (degrees per second). */
  rate(): number;
  /** Whether it is in motion (it may be at zero speed for an instant, at the start of a move). */
  moving(): boolean;
  /** Emits when the axis starts, stops or changes speed. */
  readonly motion: Signal<void>;
}

export interface SimSwitch {
  line: number;
  axis: "ra" | "dec";
  direction: "positive" | "negative";
  active_low: boolean;
  /** The angle at which the switch closes; a switch without one never closes. */
  sim_at_deg?: number;
}

const MIN_CHECK_MS = 1;
const MAX_CHECK_MS = 250;

/** Drives the simulated chip's limit lines from the simulated axes' positions, the way a cam on the axis closes a
 * real switch. Checks are scheduled from the distance to the nearest switch and the axis speed (1 ms near a switch
 * at slew speed, at most 4 Hz while tracking far from it, none while still), so an idle telescope costs nothing.
 * Returns a function that unwires it. */
export function wireSimLimits(chip: SimGpioChip, probes: { ra: AxisProbe; dec: AxisProbe }, switches: SimSwitch[]): () => void {
  const wired = switches.filter((s) => s.sim_at_deg !== undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closedAt = (s: SimSwitch, angle: number) => (s.direction === "positive" ? angle >= s.sim_at_deg! : angle <= s.sim_at_deg!);
  const check = () => {
    clearTimeout(timer);
    timer = undefined;
    let next = Infinity;
    for (const s of wired) {
      const probe = probes[s.axis];
      const angle = probe.angle();
      const closed = closedAt(s, angle);
      // Physical level: a closed switch reads logical true, i.e. low when the line is active-low.
      chip.drive(s.line, closed !== s.active_low);
      if (!probe.moving()) continue;
      const rate = probe.rate();
      // Just starting (zero speed for an instant): look again very soon.
      if (rate === 0) {
        next = Math.min(next, MIN_CHECK_MS);
        continue;
      }
      const approaching = (s.sim_at_deg! - angle) * rate > 0;
      next = Math.min(next, approaching ? (Math.abs(s.sim_at_deg! - angle) / Math.abs(rate)) * 500 : MAX_CHECK_MS);
    }
    if (Number.isFinite(next)) timer = setTimeout(check, Math.min(MAX_CHECK_MS, Math.max(MIN_CHECK_MS, next)));
  };
  const offs = [probes.ra.motion.on(check), probes.dec.motion.on(check)];
  check();
  return () => {
    clearTimeout(timer);
    for (const off of offs) off();
  };
}
