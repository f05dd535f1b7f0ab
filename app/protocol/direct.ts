import { z } from "zod";
import { RequestId } from "./lifecycle";
import { ClientId, ErrorCode, JsonObject, Uid } from "./primitives";

/** Direct request/response (seed 001). `request_type` is application-defined; each type is documented where it
 * is implemented. From a SkyNode, the response kinds travel client→server and the hub relays them. */
export const DirectRequest = z.object({
  kind: z.literal("direct_request"),
  id: RequestId,
  request_id: ClientId,
  telescope_uid: Uid,
  request_type: z.string().min(1).max(100),
  payload: JsonObject.optional(),
});
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
