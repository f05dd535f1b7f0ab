import type { Frame } from "../../../hal/camera";
import { CommandFailure, Interrupted } from "../command-failure";
import type { Handler, RunContext } from "../executor";
import type { ExposureContext, ImageWriter } from "../image-writer";
import type { Telescope } from "../telescope";
import { moveAndWait } from "./move";
import { requireFilter } from "./positioners";

export interface ExposureRequest {
  duration_s: number;
  binning: number;
  filter_id?: string;
  image_type: ExposureContext["image_type"];
  observer: string;
}

/** Camera commands: one exposure at a time; a second is refused with `conflict`. An exposure with a filter also
 * holds the filter wheel, so nothing turns it mid-frame. `diskShortage` says why there is no room for the image
 * (free space below `[store] min_free_mb`): the exposure is refused with `conflict` before the shutter opens. */
export function cameraHandlers(t: Telescope, writer: ImageWriter, conditions: () => string | null, diskShortage: () => string | null) {
  return {
    "camera.exposure.start": {
      devices: (c) => (c.filter_id ? ["camera", "filter_wheel"] : ["camera"]),
      validate: (c) => validateExposure(t, c),
      async run(c, ctx) {
        const unsafe = conditions();
        if (unsafe) throw new CommandFailure("conflict", `cannot expose: ${unsafe}`);
        refuseWithoutSpace(diskShortage, "expose");
        const req = { ...c, image_type: "Light Frame" as const, observer: ctx.record?.origin.sub ?? "skynode" };
        const { frame, context } = await expose(t, req, ctx);
        const saved = writer.save(frame, context);
        return { image_id: saved.image_id, path: saved.path, ...saved.meta, stored: saved.stored };
      },
    } satisfies Handler<"camera.exposure.start">,
  };
}

/** Throws `conflict` naming the free space when the data disk has too little of it for new frames. */
export function refuseWithoutSpace(diskShortage: () => string | null, what: string): void {
  const short = diskShortage();
  if (short) throw new CommandFailure("conflict", `cannot ${what}: ${short}`);
}

export function validateExposure(t: Telescope, c: { duration_s: number; binning: number; filter_id?: string }): void {
  const cam = t.config.camera;
  if (c.duration_s < cam.min_exposure_s || c.duration_s > cam.max_exposure_s) {
    throw new CommandFailure("invalid", `duration_s ${c.duration_s} is outside this camera's ${cam.min_exposure_s}..${cam.max_exposure_s} s`, {
      min: cam.min_exposure_s,
      max: cam.max_exposure_s,
    });
  }
  if (!cam.binnings.includes(c.binning)) {
    throw new CommandFailure("invalid", `binning ${c.binning} is not supported: use one of ${cam.binnings.join(", ")}`, { binnings: cam.binnings });
  }
  if (c.filter_id !== undefined) requireFilter(t, c.filter_id);
}

/** Puts the filter in, exposes and reads out; an abort (cancel, lease, weather) closes the shutter and throws. */
export async function expose(t: Telescope, req: ExposureRequest, ctx: RunContext): Promise<{ frame: Frame; context: ExposureContext }> {
  if (req.filter_id !== undefined) {
    const f = requireFilter(t, req.filter_id);
    if (t.devices.filterWheel.status().position !== f.slot || t.devices.filterWheel.status().state !== "idle") {
      await moveAndWait(t.devices.filterWheel, f.slot, ctx, "filter wheel");
    }
  }
  const camera = t.devices.camera;
  ctx.onStop("camera", () => camera.abort(ctx.signal.reason ?? "canceled"));
  ctx.check();
  const outcome = await camera.expose(req.duration_s, req.binning);
  if ("aborted" in outcome) throw new Interrupted(`exposure aborted: ${outcome.aborted}`);
  const target = t.mount.target();
  return {
    frame: outcome.frame,
    context: {
      object: target?.resolved.name ?? (target ? target.request.type : null),
      observer: req.observer,
      filter_id: t.currentFilter()?.id ?? null,
      // Where the axes point now, at readout: pointing() pairs the axis angles with the current sidereal time.
      pointing: t.mount.pointing(),
      focuser_um: t.devices.focuser.status().position,
      rotator_deg: t.devices.rotator.status().position,
      image_type: req.image_type,
    },
  };
}
