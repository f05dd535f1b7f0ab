import { fitFocusCurve } from "../../imaging/focus-fit";
import { measureStars } from "../../imaging/star-measure";
import { CommandFailure } from "../command-failure";
import type { Handler, RunContext } from "../executor";
import type { Telescope } from "../telescope";
import { expose, refuseWithoutSpace } from "./camera";
import { moveAndWait, round } from "./move";
import { requireFilter } from "./positioners";

interface Sample {
  position_um: number;
  hfr_px: number;
  stars: number;
}

/** Sweeps spent looking for a minimum outside the sweep. */
const MAX_SWEEPS = 3;

/** imager.autofocus: sweeps the focuser through `steps` positions around where it stands, measures the stars'
 * half-flux radius in a frame at each, fits the curve (hyperbola for `vcurve`, parabola for `parabolic`) and moves
 * to the best position. When the minimum lies outside the sweep, it re-centres on the best sample and sweeps again;
 * when it lies inside but too near an end for the fit to be trusted, it sweeps again centred on it. */
export function autofocusHandler(t: Telescope, conditions: () => string | null, diskShortage: () => string | null) {
  const af = t.config.autofocus;
  const focuser = t.devices.focuser;
  return {
    "imager.autofocus": {
      devices: () => ["camera", "focuser", "filter_wheel"],
      validate(c) {
        requireFilter(t, c.filter_id);
        const span = (af.steps - 1) * af.step_um;
        if (span > focuser.range.max - focuser.range.min) {
          throw new CommandFailure("invalid", `an autofocus sweep of ${span} µm does not fit the focuser's travel`);
        }
      },
      async run(c, ctx) {
        const unsafe = conditions();
        if (unsafe) throw new CommandFailure("conflict", `cannot autofocus: ${unsafe}`);
        // Focus frames are not stored, but the run logs every sample and ends in a result: refused like an exposure.
        refuseWithoutSpace(diskShortage, "autofocus");
        const strategy = c.strategy === "parabolic" ? "parabolic" : "vcurve";
        const start = focuser.status().position;
        const samples: Sample[] = [];
        let centre = start;
        let sweeps = MAX_SWEEPS;
        for (let sweep = 0; sweep < sweeps; sweep++) {
          const swept = await sweepAround(t, centre, c.filter_id, ctx);
          samples.push(...swept);
          const fit = fitFocusCurve(swept.filter((s) => Number.isFinite(s.hfr_px)).map((s) => ({ position: s.position_um, hfr: s.hfr_px })), strategy);
          if (!("error" in fit)) {
            const best = clampTo(Math.round(fit.best_position / focuser.stepSize) * focuser.stepSize, focuser.range);
            await moveAndWait(focuser, best, ctx, "focuser");
            return {
              strategy: c.strategy,
              filter_id: c.filter_id,
              starting_position_um: start,
              best_position_um: round(fit.best_position, 1),
              final_position_um: focuser.status().position,
              fit: { ...fit, best_position: round(fit.best_position, 2), min_hfr: round(fit.min_hfr, 3), rms: round(fit.rms, 4) },
              sweeps: sweep + 1,
              samples,
            };
          }
          if (fit.unbracketed_at !== undefined) {
            // The focus is found, only not yet bracketed: one more sweep centred on it settles it, so that sweep is
            // granted even after the search's last.
            centre = fit.unbracketed_at;
            if (sweep === sweeps - 1 && sweeps === MAX_SWEEPS) sweeps++;
          } else {
            // Re-centre on the sharpest sample: the focus lies outside (or at the edge of) this sweep.
            const usable = swept.filter((s) => Number.isFinite(s.hfr_px));
            if (usable.length === 0) break;
            centre = usable.reduce((a, b) => (b.hfr_px < a.hfr_px ? b : a)).position_um;
          }
          ctx.log.info({ sweep, reason: fit.error, recentre_um: round(centre, 1) }, "autofocus sweeping again");
        }
        await moveAndWait(focuser, start, ctx, "focuser");
        throw new CommandFailure("conflict", "autofocus found no focus minimum (too few stars, or the focus is far outside the sweep); focuser returned to its start", {
          samples,
        });
      },
    } satisfies Handler<"imager.autofocus">,
  };
}

async function sweepAround(t: Telescope, centre: number, filter_id: string, ctx: RunContext): Promise<Sample[]> {
  const af = t.config.autofocus;
  const focuser = t.devices.focuser;
  const span = (af.steps - 1) * af.step_um;
  const first = Math.min(Math.max(centre - span / 2, focuser.range.min), focuser.range.max - span);
  const out: Sample[] = [];
  for (let i = 0; i < af.steps; i++) {
    const pos = Math.round((first + i * af.step_um) / focuser.stepSize) * focuser.stepSize;
    await moveAndWait(focuser, clampTo(pos, focuser.range), ctx, "focuser");
    const { frame } = await expose(t, { duration_s: af.exposure_s, binning: af.binning, filter_id, image_type: "Focus Frame", observer: "autofocus" }, ctx);
    const m = measureStars(frame.pixels, frame.width, frame.height);
    // HFR in unbinned pixels, so samples compare across binnings.
    const sample = { position_um: focuser.status().position, hfr_px: round(m.hfr_px * frame.binning, 3), stars: m.stars.length };
    out.push(sample);
    // Each sample goes out as it is measured (telescope_log), so a UI can plot the V-curve while it fills.
    ctx.log.info({ autofocus_sample: sample, command_id: ctx.id }, "autofocus sample");
    ctx.check();
  }
  return out;
}

const clampTo = (x: number, r: { min: number; max: number }) => Math.min(Math.max(x, r.min), r.max);
