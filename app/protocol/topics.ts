import { z } from "zod";
import { ErrorCode } from "./primitives";

/** Seed 003: topic publish/subscribe on `/wss` (docs/messaging.md). Unknown fields are refused; `id` is optional
 * and echoed by the answer. */

/** Letters, digits and `_ . : / @ -`: room for `telescope_snapshot/sim-1/mount`-style hierarchies. */
export const TopicName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:/@-]+$/, "letters, digits and _ . : / @ - only");

const RequestId = z.string().min(1).max(200).optional();

/** What a publisher sends and every subscriber receives: seed 003's `{"name","type","data"}`. */
export const TopicData = z.strictObject({
  name: z.string().max(200),
  type: z.string().max(200),
  data: z.unknown(),
});

export const TopicSubscribe = z.strictObject({ action: z.literal("subscribe"), topic: TopicName, id: RequestId });
export const TopicUnsubscribe = z.strictObject({ action: z.literal("unsubscribe"), topic: TopicName, id: RequestId });
export const TopicPublish = z.strictObject({ action: z.literal("publish"), topic: TopicName, data: TopicData, id: RequestId });

/** What a client may send on `/wss`. */
export const TopicInbound = z.discriminatedUnion("action", [TopicSubscribe, TopicUnsubscribe, TopicPublish]);
export type TopicInbound = z.infer<typeof TopicInbound>;

/** A delivery: `from` (the publisher's token subject, or "server") and `sent_at` are filled by the server. */
export const TopicMessage = z.strictObject({
  kind: z.literal("message"),
  topic: TopicName,
  data: TopicData,
  from: z.string(),
  sent_at: z.iso.datetime(),
});

export const TopicAck = z.strictObject({
  kind: z.literal("ack"),
  action: z.enum(["subscribe", "unsubscribe", "publish"]),
  topic: TopicName,
  id: RequestId,
});

export const TopicError = z.strictObject({
  kind: z.literal("error"),
  code: ErrorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
  id: RequestId,
});

/** What the server sends on `/wss`. */
export const TopicOutbound = z.discriminatedUnion("kind", [TopicMessage, TopicAck, TopicError]);
export type TopicOutbound = z.infer<typeof TopicOutbound>;
