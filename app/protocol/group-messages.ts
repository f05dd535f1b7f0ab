import { z } from "zod";

/** Seed 004: `WS_Message_V3` on `/v3/ws/group/{group_id}/client/{client_id}` (docs/messaging.md). */

export const MsgType = z.enum(["msg", "cmd", "heartbeat", "presence"]);
export const MsgTarget = z.enum(["direct", "group", "broadcast", "echo"]);

/** A group or client id: opaque, as the seed says, but bounded and without the path separator. */
export const PeerId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^/\u0000-\u001f]+$/, "no '/' or control characters");

/** Pydantic's Optional fields take null as absent; so do these. */
const optional = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);

/** What a client sends. The server-filled fields (version, from_id, group_id, sent_at) are accepted and ignored,
 * whatever their type: the server takes them from the connection, so a client cannot spoof them. */
export const GroupInbound = z
  .strictObject({
    version: z.unknown().optional(),
    msg_type: MsgType,
    target: MsgTarget,
    from_id: z.unknown().optional(),
    to_id: optional(PeerId),
    group_id: z.unknown().optional(),
    cmd: optional(z.string().max(200)),
    msg: optional(z.string()),
    payload: optional(z.record(z.string(), z.unknown())),
    sent_at: z.unknown().optional(),
  })
  .superRefine((m, ctx) => {
    if (m.target === "direct" && m.to_id === undefined) {
      ctx.addIssue({ code: "custom", path: ["to_id"], message: "to_id is required when target is 'direct'" });
    }
  });
export type GroupInbound = z.infer<typeof GroupInbound>;

/** What the server sends: every message, presence and error alike, in the same shape. */
export const GroupMessage = z.strictObject({
  version: z.literal("3"),
  msg_type: MsgType,
  target: MsgTarget,
  from_id: PeerId,
  to_id: PeerId.optional(),
  group_id: PeerId,
  cmd: z.string().optional(),
  msg: z.string().optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
  sent_at: z.iso.datetime(),
});
export type GroupMessage = z.infer<typeof GroupMessage>;

/** `payload` of a server `presence` message. */
export const PresencePayload = z.discriminatedUnion("event", [
  z.strictObject({ event: z.enum(["join", "leave", "expire"]), client_id: PeerId }),
  z.strictObject({ event: z.literal("snapshot"), clients: z.array(PeerId) }),
]);
