import { z } from "zod";
import { ClientId, TargetPosition } from "./primitives";

/** Seed 002's command catalog: the payload of `publish_command.command`, discriminated on `command_type`.
 * Payloads are strict so a misspelt field ("duration" for "duration_s") is an error, not a silent default.
 * Ranges here are what any telescope could accept; each device's configured limits are checked by the SkyNode. */
const finite = z.number().finite();
const cmd = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ command_type: z.literal(type), ...shape });

const OffsetPattern = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("raster"),
    width_arcsec: finite.positive().max(36000),
    height_arcsec: finite.positive().max(36000),
    step_arcsec: finite.positive().max(36000),
    dwell_s: finite.positive().max(3600),
  }),
  z.strictObject({
    type: z.literal("daisy"),
    radius_arcsec: finite.positive().max(36000),
    petals: z.int().min(1).max(32),
    period_s: finite.positive().max(86400),
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
const leaseDuration = finite.positive().max(86400);
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
});
export type LeaseGrant = z.infer<typeof LeaseGrant>;
