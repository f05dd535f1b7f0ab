import { z } from "zod";
import * as commandChannel from "./command-channel";
import * as commands from "./commands";
import * as direct from "./direct";
import * as groupMessages from "./group-messages";
import * as lifecycle from "./lifecycle";
import * as primitives from "./primitives";
import * as stream from "./stream";
import * as tasks from "./tasks";
import * as topics from "./topics";

export * from "./command-channel";
export * from "./commands";
export * from "./direct";
export * from "./group-messages";
export * from "./lifecycle";
export * from "./primitives";
export * from "./stream";
export * from "./tasks";
export * from "./topics";

const { Ping, Pong, Ack, ErrorEnvelope } = lifecycle;

/** What a client may send on `/v1/ws/stream`. */
export const StreamInbound = z.discriminatedUnion("kind", [
  Ping,
  Pong,
  Ack,
  stream.SubscribeStream,
  stream.UnsubscribeStream,
  stream.PublishDeviceSnapshot,
  stream.PublishTelescopeSnapshot,
  stream.PublishConstraintSnapshot,
  stream.PublishConstraintStatusSnapshot,
  stream.PublishShutdownInterlockSnapshot,
  stream.PublishTelescopeLog,
]);
export type StreamInbound = z.infer<typeof StreamInbound>;

/** What a client may send on `/v1/ws/commands` (the direct_response_* kinds and direct_error only from a SkyNode). */
export const CommandsInbound = z.discriminatedUnion("kind", [
  Ping,
  Pong,
  Ack,
  commandChannel.SubscribeCommands,
  commandChannel.UnsubscribeCommands,
  commandChannel.PublishCommand,
  commandChannel.CancelCommand,
  commandChannel.PublishCommandResult,
  commandChannel.PublishManualControlLease,
  direct.DirectRequest,
  direct.DirectResponseStart,
  direct.DirectResponseChunk,
  direct.DirectResponseEnd,
  direct.DirectError,
]);
export type CommandsInbound = z.infer<typeof CommandsInbound>;

/** Everything the server sends, on either endpoint. */
export const ServerMessage = z.discriminatedUnion("kind", [
  Ping,
  Pong,
  Ack,
  ErrorEnvelope,
  stream.EventDeviceSnapshot,
  stream.EventTelescopeSnapshot,
  stream.EventInstrumentSnapshot,
  stream.EventConstraintSnapshot,
  stream.EventConstraintStatusSnapshot,
  stream.EventShutdownInterlockSnapshot,
  stream.EventManualControlLease,
  stream.EventTelescopeLog,
  commandChannel.EventCommand,
  commandChannel.EventCommandResult,
  commandChannel.CancelCommand,
  direct.DirectResponseStart,
  direct.DirectResponseChunk,
  direct.DirectResponseEnd,
  direct.DirectError,
  direct.DirectCredit,
  direct.DirectCancel,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Named schemas for the generated JSON Schema document (docs/protocol.schema.json). */
export const namedSchemas: Record<string, z.ZodType> = {
  ...pickSchemas(primitives),
  ...pickSchemas(lifecycle),
  ...pickSchemas(stream),
  ...pickSchemas(commands),
  ...pickSchemas(commandChannel),
  ...pickSchemas(direct),
  ...pickSchemas(tasks),
  ...pickSchemas(topics),
  ...pickSchemas(groupMessages),
  StreamInbound,
  CommandsInbound,
  ServerMessage,
};

function pickSchemas(mod: Record<string, unknown>): Record<string, z.ZodType> {
  const out: Record<string, z.ZodType> = {};
  for (const [name, value] of Object.entries(mod)) if (value instanceof z.ZodType) out[name] = value;
  return out;
}
