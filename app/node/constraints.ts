import { Body, Equator, Horizon, MakeTime } from "astronomy-engine";
import { observerOf } from "../astro/site";
import type { Resolved } from "../astro/targets";
import type { LimitState } from "../../hal/limits/limit-guard";
import { Signal } from "../../hal/signal";
import type { Telescope } from "./telescope";

export interface ConstraintStatus {
  name: "sun_altitude" | "target_altitude" | "mount_limits" | "weather" | "roof" | "limit_switches" | "devices_connected";
  value: number | string | null;
  limit: number | string;
  satisfied: boolean;
  /** Site conditions and the hardware's state gate everything; target constraints gate only the automation's
   * current target. */
  scope: "site" | "hardware" | "target";
}

/** Evaluates the observing constraints: the Sun's altitude, the target's altitude against the horizon limit, the
 * mount's hour-angle limit, the weather and roof inputs, the limit switches and the devices' connections. `safe`
 * is the site and hardware part (everything but the target's). Hardware changes (a switch trips, a cable is
 * pulled) re-evaluate at once rather than at the next interval. */
export class Constraints {
  readonly changed = new Signal<void>();
  private last: ConstraintStatus[] = [];
  private lastKey = "";

  constructor(
    private readonly t: Telescope,
    private readonly target: () => Resolved | null,
  ) {
    const d = t.devices;
    let key = this.hardwareKey();
    let queued = false;
    // Right after the device's notification, not inside it: a limit trip notifies from within its halt, and nothing
    // there but the stop should run before the edge handler returns. Still before any I/O or timer.
    const onDevice = () => {
      if (queued) return;
      queued = true;
      queueMicrotask(() => {
        queued = false;
        const next = this.hardwareKey();
        if (next === key) return;
        key = next;
        this.refresh();
      });
    };
    for (const dev of [d.mount.ra, d.mount.dec, d.focuser]) dev.changed.on(onDevice);
  }

  private hardwareKey(): string {
    const d = this.t.devices;
    return `${JSON.stringify(d.limits.states().map((s) => [s.state, s.reason]))}/${this.disconnected().join(",")}`;
  }

  private disconnected(): string[] {
    const d = this.t.devices;
    return [
      ["mount", d.mount.ra.connected() && d.mount.dec.connected()],
      ["focuser", d.focuser.connected()],
    ].flatMap(([name, ok]) => (ok ? [] : [name as string]));
  }

  definitions(): Record<string, unknown> {
    const c = this.t.config;
    return {
      sun_altitude: { max_deg: c.constraints.max_sun_alt_deg },
      target_altitude: { min_deg: c.mount.horizon_deg },
      mount_limits: { ha_limit_deg: c.mount.ha_limit_deg },
      weather: { required: "safe" },
      roof: { required: "open" },
      limit_switches: {
        required: "none tripped",
        switches: this.t.devices.limits.states().map(({ name, axis, direction, line }) => ({ name, axis, direction, line })),
      },
      devices_connected: { required: "all connected" },
    };
  }

  status(): ConstraintStatus[] {
    return this.last;
  }

  /** Site conditions only: what makes exposures pointless or dangerous (weather, roof) and night (sun). */
  safe(): boolean {
    return this.last.every((s) => s.scope === "target" || s.satisfied);
  }

  /** Why light exposures may not run now (weather or roof), or null. */
  exposureBlocker(): string | null {
    if (!this.t.inputs.weather_safe) return "the weather is unsafe";
    if (!this.t.inputs.roof_open) return "the roof is closed";
    return null;
  }

  /** Everything the automation needs for its target, or the first unmet constraint. */
  blockerFor(target: Resolved | null): string | null {
    const all = this.evaluate(target);
    const unmet = all.find((s) => !s.satisfied);
    return unmet ? `${unmet.name} is ${unmet.value} (needs ${unmet.limit})` : null;
  }

  refresh(): void {
    this.last = this.evaluate(this.target());
    const key = JSON.stringify(this.last.map((s) => [s.name, s.satisfied]));
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.changed.emit();
    }
  }

  private evaluate(target: Resolved | null, date = new Date()): ConstraintStatus[] {
    const c = this.t.config;
    const sunAlt = sunAltitude(this.t, date);
    const out: ConstraintStatus[] = [
      { name: "sun_altitude", value: r2(sunAlt), limit: `<= ${c.constraints.max_sun_alt_deg}`, satisfied: sunAlt <= c.constraints.max_sun_alt_deg, scope: "site" },
      { name: "weather", value: this.t.inputs.weather_safe ? "safe" : "unsafe", limit: "safe", satisfied: this.t.inputs.weather_safe, scope: "site" },
      { name: "roof", value: this.t.inputs.roof_open ? "open" : "closed", limit: "open", satisfied: this.t.inputs.roof_open, scope: "site" },
    ];
    const limits = limitSwitchesValue(this.t.devices.limits.states());
    const disconnected = this.disconnected();
    out.push(
      { name: "limit_switches", value: limits ?? "none tripped", limit: "none tripped", satisfied: limits === null, scope: "hardware" },
      { name: "devices_connected", value: disconnected.length ? `disconnected: ${disconnected.join(", ")}` : "all connected", limit: "all connected", satisfied: disconnected.length === 0, scope: "hardware" },
    );
    if (target) {
      const p = target.at(date);
      const ha = this.t.mount.hourAngleOf(p.ra_app_deg, date);
      out.push(
        { name: "target_altitude", value: r2(p.alt_deg), limit: `>= ${c.mount.horizon_deg}`, satisfied: p.alt_deg >= c.mount.horizon_deg, scope: "target" },
        { name: "mount_limits", value: r2(ha), limit: `|ha| <= ${c.mount.ha_limit_deg}`, satisfied: Math.abs(ha) <= c.mount.ha_limit_deg, scope: "target" },
      );
    } else {
      out.push(
        { name: "target_altitude", value: null, limit: `>= ${c.mount.horizon_deg}`, satisfied: true, scope: "target" },
        { name: "mount_limits", value: null, limit: `|ha| <= ${c.mount.ha_limit_deg}`, satisfied: true, scope: "target" },
      );
    }
    return out;
  }
}

/** What refuses motion, e.g. "tripped: ra-west; unknown: ra-east, dec-north: GPIO reader failed (…)"; null when
 * every switch is clear. Unknown switches are grouped by why. */
function limitSwitchesValue(states: LimitState[]): string | null {
  const tripped = states.filter((s) => s.state === "tripped").map((s) => s.name);
  const unknown = Map.groupBy(
    states.filter((s) => s.state === "unknown"),
    (s) => s.reason ?? "state unknown",
  );
  const parts = [
    ...(tripped.length ? [`tripped: ${tripped.join(", ")}`] : []),
    ...[...unknown].map(([reason, ss]) => `unknown: ${ss.map((s) => s.name).join(", ")}: ${reason}`),
  ];
  return parts.length ? parts.join("; ") : null;
}

function sunAltitude(t: Telescope, date: Date): number {
  const time = MakeTime(date);
  const observer = observerOf(t.site);
  const eq = Equator(Body.Sun, time, observer, true, true);
  return Horizon(time, observer, eq.ra, eq.dec, "normal").altitude;
}
const r2 = (x: number) => Math.round(x * 100) / 100;
