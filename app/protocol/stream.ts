import { z } from "zod";
import { ClientId, JsonObject, Uid } from "./primitives";
import { RequestId } from "./lifecycle";

/** Stream names of `/v1/ws/stream` (DESIGN.md §3). */
export const StreamName = z.enum([
  "device_snapshot",
  "telescope_snapshot",
  "instrument_snapshot",
  "constraint_snapshot",
  "constraint_status_snapshot",
  "shutdown_interlock_snapshot",
  "manual_control_lease",
  "telescope_log",
]);
export type StreamName = z.infer<typeof StreamName>;

const OneOrMany = Uid.or(z.array(Uid).min(1).max(100));
export const StreamFilter = z.strictObject({
  telescope_uid: OneOrMany.optional(),
  observatory_uid: OneOrMany.optional(),
  device_type: OneOrMany.optional(),
  device_uid: OneOrMany.optional(),
});
export type StreamFilter = z.infer<typeof StreamFilter>;

export const SubscribeStream = z.object({
  kind: z.literal("subscribe_stream"),
  id: RequestId,
  subscription_id: ClientId,
  streams: z.array(StreamName).min(1).optional(),
  filter: StreamFilter.optional(),
  options: z.strictObject({ include_existing: z.boolean().optional() }).optional(),
});
export const UnsubscribeStream = z.object({ kind: z.literal("unsubscribe_stream"), id: RequestId, subscription_id: ClientId });

/** A snapshot is the device's own structured state; the hub reads only these optional routing fields from it. */
export const Snapshot = JsonObject.and(
  z.object({
    device_type: z.string().max(100).optional(),
    observatory_uid: Uid.optional(),
    /** Device snapshots that name an instrument are merged into that instrument's snapshot by the hub. */
    instrument_uid: Uid.optional(),
  }),
);
export const LogEntry = z.looseObject({
  ts: z.union([z.iso.datetime({ offset: true }), z.number().finite()]),
  level: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]),
  msg: z.string().max(64 * 1024),
});
export type LogEntry = z.infer<typeof LogEntry>;

export const PublishDeviceSnapshot = z.object({
  kind: z.literal("publish_device_snapshot"),
  id: RequestId,
  telescope_uid: Uid,
  device_uid: Uid,
  snapshot: Snapshot,
});
const publishSnapshot = <K extends string>(kind: K) =>
  z.object({ kind: z.literal(kind), id: RequestId, telescope_uid: Uid, snapshot: Snapshot });
export const PublishTelescopeSnapshot = publishSnapshot("publish_telescope_snapshot");
export const PublishConstraintSnapshot = publishSnapshot("publish_constraint_snapshot");
export const PublishConstraintStatusSnapshot = publishSnapshot("publish_constraint_status_snapshot");
export const PublishShutdownInterlockSnapshot = publishSnapshot("publish_shutdown_interlock_snapshot");
export const PublishTelescopeLog = z.object({
  kind: z.literal("publish_telescope_log"),
  id: RequestId,
  telescope_uid: Uid,
  entry: LogEntry,
});

/** The lease state the hub derives from lease command results and expiry. */
export const LeaseState = z.object({
  state: z.enum(["active", "released", "expired", "revoked"]),
  lease_id: ClientId,
  holder: z.string(),
  purpose: z.string().optional(),
  expires_at: z.iso.datetime({ offset: true }),
  /** When the lease was first granted: `max_lease_s` bounds its whole life from here, renewals included. Absent in
   * leases recorded before it was kept. */
  acquired_at: z.iso.datetime({ offset: true }).optional(),
});
export type LeaseState = z.infer<typeof LeaseState>;

const event = <K extends string, S extends z.ZodRawShape>(kind: K, shape: S) =>
  z.object({ kind: z.literal(kind), subscription_id: ClientId, telescope_uid: Uid, ...shape });
export const EventDeviceSnapshot = event("event_device_snapshot", { device_uid: Uid, snapshot: Snapshot });
export const EventTelescopeSnapshot = event("event_telescope_snapshot", { snapshot: Snapshot });
export const EventInstrumentSnapshot = event("event_instrument_snapshot", { instrument_uid: Uid, snapshot: Snapshot });
export const EventConstraintSnapshot = event("event_constraint_snapshot", { snapshot: Snapshot });
export const EventConstraintStatusSnapshot = event("event_constraint_status_snapshot", { snapshot: Snapshot });
export const EventShutdownInterlockSnapshot = event("event_shutdown_interlock_snapshot", { snapshot: Snapshot });
export const EventManualControlLease = event("event_manual_control_lease", { seq: z.int().positive(), lease: LeaseState });
export const EventTelescopeLog = event("event_telescope_log", { entry: LogEntry });
