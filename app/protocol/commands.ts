import { z } from "zod";
import { ClientId, TargetPosition } from "./primitives";

/** Seed 002's command catalog: the payload of `publish_command.command`, discriminated on `command_type`.
 * Payloads are strict so a misspelt field ("duration" for "duration_s") is an error, not a silent default.
 * Ranges here are what any telescope could accept; each device's configured limits are checked by the SkyNode. */
const finite = z.number().finite();
const cmd = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ command_type: z.literal(type), ...shape });

/** A raster's grid: floor(size/step)+1 points per axis. The epsilon keeps size = n·step from losing its last point
 * to rounding (0.3 / 0.1 = 2.9999999999999996). app/astro/patterns.ts walks exactly this grid. */
export function rasterGrid(p: { width_arcsec: number; height_arcsec: number; step_arcsec: number }): { nx: number; ny: number } {
  return { nx: Math.floor(p.width_arcsec / p.step_arcsec + 1e-9) + 1, ny: Math.floor(p.height_arcsec / p.step_arcsec + 1e-9) + 1 };
}
/** Points one raster cycle may visit: the pattern is walked by a 1 Hz tracking loop, and a grid this size already
 * takes 10,000 dwells per cycle. */
export const MAX_RASTER_POINTS = 10_000;

const OffsetPattern = z.discriminatedUnion("type", [
  z
    .strictObject({
      type: z.literal("raster"),
      width_arcsec: finite.positive().max(36000),
      height_arcsec: finite.positive().max(36000),
      step_arcsec: finite.min(0.1).max(36000),
      dwell_s: finite.min(0.1).max(3600),
    })
    .refine(
      (p) => {
        const { nx, ny } = rasterGrid(p);
        return nx * ny <= MAX_RASTER_POINTS;
      },
      { path: ["step_arcsec"], message: `the raster has more than ${MAX_RASTER_POINTS} points ((width/step+1)·(height/step+1)): use a larger step or a smaller area` },
    )
    .describe(`At most ${MAX_RASTER_POINTS} grid points: (floor(width/step)+1)·(floor(height/step)+1) ≤ ${MAX_RASTER_POINTS}.`),
  z.strictObject({
    type: z.literal("daisy"),
    radius_arcsec: finite.min(0.1).max(36000),
    petals: z.int().min(1).max(32),
    period_s: finite.min(1).max(86400),
  }),
]);

export const MountPoint = cmd("mount.point", { target: TargetPosition });
export const MountTrack = cmd("mount.track", { target: TargetPosition, offset_pattern: OffsetPattern.optional() });
export const MountOffsetRelative = cmd("mount.offset_relative", {
  delta_arcsec: finite.min(-36000).max(36000),
  axis: z.enum(["ra", "dec", "alt", "az"]),
});
export const CameraExposureStart = cmd("camera.exposure.start", {
  duration_s: finite.min(0).max(86400),
  binning: z.int().min(1).max(16),
  filter_id: ClientId.optional(),
});
export const ImagerAutofocus = cmd("imager.autofocus", {
  filter_id: ClientId,
  strategy: z.enum(["vcurve", "v_curve", "parabolic"]),
});
export const FilterWheelSetOption = cmd("filter_wheel.set_option", { filter_wheel_position_id: ClientId });
const moveAbsolute = { position_um: finite.min(0).max(1e7) };
const moveRelative = { delta_um: finite.min(-1e7).max(1e7) };
export const FocuserMoveAbsolute = cmd("focuser.move_absolute", moveAbsolute);
export const FocuserMoveRelative = cmd("focuser.move_relative", moveRelative);
/** Seed 002's higher-level aliases: same payloads, executed as the focuser.* moves. */
export const FocusMoveAbsolute = cmd("focus.move_absolute", moveAbsolute);
export const FocusMoveRelative = cmd("focus.move_relative", moveRelative);
export const RotatorMoveAbsolute = cmd("rotator.move_absolute", { angle_deg: finite.min(-360).max(360) });
export const RotatorMoveRelative = cmd("rotator.move_relative", { delta_deg: finite.min(-360).max(360) });
/** A lease shorter than a second would expire before its result reached anyone. */
const leaseDuration = finite.min(1).max(86400);
export const LeaseAcquire = cmd("manual_control_lease.acquire", {
  duration_s: leaseDuration,
  purpose: z.string().max(200).optional(),
});
export const LeaseRenew = cmd("manual_control_lease.renew", { lease_id: ClientId, duration_s: leaseDuration });
export const LeaseRelease = cmd("manual_control_lease.release", { lease_id: ClientId });
export const SystemAbortManualControl = cmd("system.abort_manual_control", { lease_id: ClientId });

export const Command = z.discriminatedUnion("command_type", [
  MountPoint,
  MountTrack,
  MountOffsetRelative,
  CameraExposureStart,
  ImagerAutofocus,
  FilterWheelSetOption,
  FocuserMoveAbsolute,
  FocuserMoveRelative,
  FocusMoveAbsolute,
  FocusMoveRelative,
  RotatorMoveAbsolute,
  RotatorMoveRelative,
  LeaseAcquire,
  LeaseRenew,
  LeaseRelease,
  SystemAbortManualControl,
]);
export type Command = z.infer<typeof Command>;
export type CommandType = Command["command_type"];
export const COMMAND_TYPES = Command.options.map((o) => o.shape.command_type.value) as CommandType[];

/** Lease result data (DESIGN.md §3): what `manual_control_lease.acquire`/`renew` answer on success. */
export const LeaseGrant = z.object({
  lease_id: ClientId,
  holder: z.string().min(1).max(200),
  purpose: z.string().max(200).optional(),
  expires_at: z.iso.datetime({ offset: true }),
  /** See LeaseState.acquired_at: carried in the results so the hub's lease state (and, after a restart, the
   * SkyNode's, learnt back from the lease stream) keeps it. */
  acquired_at: z.iso.datetime({ offset: true }).optional(),
});
export type LeaseGrant = z.infer<typeof LeaseGrant>;
