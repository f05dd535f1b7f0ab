import { z } from "zod";
import { RequestId } from "./lifecycle";
import { ClientId, ErrorCode, JsonObject, Uid } from "./primitives";

/** Direct request/response (seed 001). `request_type` is application-defined; each type is documented where it
 * is implemented (app/direct/types). `payload.accept: ["binary"]` asks for binary chunks (DESIGN.md §3). From a
 * SkyNode, the response kinds travel client→server and the hub relays them. */
export const DirectRequest = z.object({
  kind: z.literal("direct_request"),
  id: RequestId,
  request_id: ClientId,
  telescope_uid: Uid,
  request_type: z.string().min(1).max(100),
  payload: JsonObject.optional(),
  /** Filled by a hub when it forwards the request to a SkyNode: how many chunks the SkyNode may send ahead of the
   * hub's `direct_credit` grants. A client-sent value is ignored. */
  credit: z.int().min(1).max(1024).optional(),
});
export type DirectRequest = z.infer<typeof DirectRequest>;
export const DirectResponseStart = z.object({
  kind: z.literal("direct_response_start"),
  request_id: ClientId,
  content_type: z.string().min(1).max(200),
  total_size: z.int().min(0),
  metadata: JsonObject.optional(),
  /** Present (= "binary") when chunks follow as binary frames (DESIGN.md §3). */
  encoding: z.enum(["base64", "binary"]).optional(),
});
export const DirectResponseChunk = z.object({
  kind: z.literal("direct_response_chunk"),
  request_id: ClientId,
  data_b64: z.base64().optional(),
  /** Binary encoding: the chunk's index and byte size; the chunk itself is the next (binary) frame. */
  seq: z.int().min(0).optional(),
  size: z.int().min(0).optional(),
});
export const DirectResponseEnd = z.object({ kind: z.literal("direct_response_end"), request_id: ClientId });
export const DirectError = z.object({
  kind: z.literal("direct_error"),
  request_id: ClientId,
  code: ErrorCode,
  message: z.string().max(4096),
  details: JsonObject.optional(),
});
/** Hub → SkyNode: the requester has taken `chunks` more chunks of a forwarded request; the SkyNode may send as
 * many more. This is how a slow requester slows the SkyNode instead of filling the hub's memory. */
export const DirectCredit = z.object({ kind: z.literal("direct_credit"), request_id: ClientId, chunks: z.int().min(1) });
/** Hub → SkyNode: stop answering a forwarded request (its requester went away, or the SkyNode broke the flow
 * control); send nothing more for it. */
export const DirectCancel = z.object({ kind: z.literal("direct_cancel"), request_id: ClientId, reason: z.string().max(500) });
