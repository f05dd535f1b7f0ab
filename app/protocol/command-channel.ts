import { z } from "zod";
import { Command } from "./commands";
import { RequestId } from "./lifecycle";
import { ClientId, ErrorCode, JsonObject, Origin, Uid } from "./primitives";
import { LeaseState } from "./stream";

/** Messages of `/v1/ws/commands` (seed 002, shapes per DESIGN.md §3). */
export const CommandStreamName = z.enum(["command", "command_result"]);

export const SubscribeCommands = z.object({
  kind: z.literal("subscribe_commands"),
  id: RequestId,
  subscription_id: ClientId,
  streams: z.array(CommandStreamName).min(1).optional(),
  filter: z.strictObject({ telescope_uid: Uid.or(z.array(Uid).min(1).max(100)).optional() }).optional(),
  /** Replay journalled commands/results with a sequence number above this, per telescope, before live events. */
  since_seq: z.int().min(0).optional(),
});
export const UnsubscribeCommands = z.object({ kind: z.literal("unsubscribe_commands"), id: RequestId, subscription_id: ClientId });

export const PublishCommand = z.object({
  kind: z.literal("publish_command"),
  id: RequestId,
  telescope_uid: Uid,
  command_id: ClientId,
  command: Command,
  /** Accepted for compatibility with seed 002's example and ignored: the server fills origin. */
  origin: z.unknown().optional(),
});
/** From a client: `{kind, command_id}`; the hub adds `telescope_uid` when it forwards it to the SkyNode. */
export const CancelCommand = z.object({
  kind: z.literal("cancel_command"),
  id: RequestId,
  command_id: ClientId,
  telescope_uid: Uid.optional(),
});

export const CommandError = z.object({ code: ErrorCode, message: z.string().max(4096), details: JsonObject.optional() });
export const CommandResult = z
  .object({
    command_id: ClientId,
    status: z.enum(["ok", "error", "canceled"]),
    data: JsonObject.optional(),
    error: CommandError.optional(),
  })
  .refine((r) => r.status !== "error" || r.error !== undefined, { message: "status error needs an error", path: ["error"] });
export type CommandResult = z.infer<typeof CommandResult>;

export const PublishCommandResult = z.object({
  kind: z.literal("publish_command_result"),
  id: RequestId,
  telescope_uid: Uid,
  result: CommandResult,
});

/** From a SkyNode that is itself a hub's authority over its telescope (an appliance federated upstream): its lease
 * state as it changes, so that this hub applies the same lease. `seq` is the appliance's journal number. */
export const PublishManualControlLease = z.object({
  kind: z.literal("publish_manual_control_lease"),
  id: RequestId,
  telescope_uid: Uid,
  seq: z.int().positive().optional(),
  lease: LeaseState,
});

export const CommandRecord = z.object({ telescope_uid: Uid, command_id: ClientId, command: Command, origin: Origin });
export type CommandRecord = z.infer<typeof CommandRecord>;
export const EventCommand = z.object({
  kind: z.literal("event_command"),
  subscription_id: ClientId,
  seq: z.int().positive(),
  command: CommandRecord,
});
export const EventCommandResult = z.object({
  kind: z.literal("event_command_result"),
  subscription_id: ClientId,
  seq: z.int().positive(),
  telescope_uid: Uid,
  result: CommandResult,
});
