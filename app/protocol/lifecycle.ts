import { z } from "zod";
import { ClientId, ErrorCode, JsonObject } from "./primitives";

/** Any client→server message may carry an `id`; the ack, pong or error that answers it echoes it. */
export const RequestId = ClientId.optional();

export const Ping = z.object({ kind: z.literal("ping"), id: RequestId });
export const Pong = z.object({ kind: z.literal("pong"), id: RequestId });
export const Ack = z.object({
  kind: z.literal("ack"),
  id: RequestId,
  /** Set when the ack confirms a published command: its journal sequence number. */
  command_id: ClientId.optional(),
  seq: z.int().positive().optional(),
});
export const ErrorEnvelope = z.object({
  kind: z.literal("error"),
  id: RequestId,
  code: ErrorCode,
  message: z.string(),
  details: JsonObject.optional(),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;
