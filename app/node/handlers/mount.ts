import type { Handler, RunContext } from "../executor";
import type { Pointing } from "../mount-control";
import type { Telescope } from "../telescope";
import type { OffsetPattern } from "../../astro/patterns";
import type { TargetPosition } from "../../protocol";
import { round } from "./move";

/** Mount commands. A new mount.point/mount.track supersedes the slew or track in progress (the earlier command
 * reports `canceled` with `superseded_by` once the axes have stopped): redirecting a slew is normal at a telescope.
 * mount.offset_relative while a slew runs is refused with `conflict`; while tracking it shifts the tracked point. */
export function mountHandlers(t: Telescope) {
  const m = t.mount;
  /** Slews to the target, then stops there or starts tracking it; the result is where the axes then point. */
  const slewThen = async (c: { target: TargetPosition; offset_pattern?: OffsetPattern }, ctx: RunContext, track: boolean) => {
    const target = m.resolve(c.target);
    const started = Date.now();
    await m.slew(target, c.target, ctx.onStop);
    if (track) {
      ctx.check();
      m.startTracking(target, c.target, c.offset_pattern ?? null);
    } else {
      await m.stop();
    }
    const slew_s = (Date.now() - started) / 1000;
    return { target: describe(target), position: position(m.pointing()), tracking: track, ...(track ? { offset_pattern: c.offset_pattern ?? null } : {}), slew_s };
  };
  return {
    "mount.point": {
      devices: () => ["mount"],
      supersedes: true,
      validate: (c) => void m.resolve(c.target),
      run: (c, ctx) => slewThen(c, ctx, false),
    } satisfies Handler<"mount.point">,
    "mount.track": {
      devices: () => ["mount"],
      supersedes: true,
      validate: (c) => void m.resolve(c.target),
      run: (c, ctx) => slewThen(c, ctx, true),
    } satisfies Handler<"mount.track">,
    "mount.offset_relative": {
      devices: () => ["mount"],
      async run(c, ctx) {
        const p = await m.offset(c.axis, c.delta_arcsec, ctx.onStop);
        return { axis: c.axis, delta_arcsec: c.delta_arcsec, tracking: m.isTracking(), position: position(p) };
      },
    } satisfies Handler<"mount.offset_relative">,
  };
}

function describe(r: { name?: string; kind: string; ra_deg: number; dec_deg: number }) {
  return { name: r.name ?? null, type: r.kind, ra_deg: round(r.ra_deg, 6), dec_deg: round(r.dec_deg, 6) };
}

/** The commanded position: J2000 and horizontal coordinates of where the axes now point. */
export function position(p: Pointing) {
  return {
    ra_deg: round(p.ra_deg, 6),
    dec_deg: round(p.dec_deg, 6),
    alt_deg: round(p.alt_deg, 4),
    az_deg: round(p.az_deg, 4),
    ha_deg: round(p.ha_deg, 4),
  };
}
