import type { z } from "zod";
import type { Principal } from "../auth/principal";
import type { ErrorCode } from "../protocol";
import type { WsSocket } from "./socket";

/** What an endpoint answers a refused request with, in its own shape. */
export interface Refused {
  id: string | undefined;
  code: ErrorCode;
  message: string;
  details?: object;
}

/** One WebSocket endpoint (Hono's adapter idea): its inbound schema and four handlers. The frame pipeline
 * (pipeline.ts) does everything endpoints share — size, depth and rate limits, one parse, validation, and a guard
 * around every handler — so an endpoint only ever sees valid messages and may throw. */
export interface Endpoint<C, M> {
  /** Names the endpoint in logs, e.g. "/v1/ws/stream". */
  readonly name: string;
  readonly schema: z.ZodType<M>;
  /** A new socket whose upgrade was accepted. */
  open(principal: Principal, socket: WsSocket, accepted: unknown): C;
  /** A valid message. A throw (or a rejection) answers it: a RequestError with its code, anything else `internal`. */
  handle(conn: C, msg: M): void | Promise<unknown>;
  close(conn: C): void;
  /** The endpoint's error frame. */
  error(conn: C, refused: Refused): string;
  /** The id an answer to this raw (parsed, not yet validated) frame echoes. */
  idOf(raw: unknown): string | undefined;
  /** What a message is, for logs ("subscribe_stream", "publish"…). */
  label(msg: M): string;
  /** Binary frames, where the endpoint takes them; elsewhere they are `invalid`. */
  binary?(conn: C, data: Uint8Array): void;
  /** A text frame before it is parsed: true when the endpoint took it whole (a relayed chunk spliced unparsed). */
  raw?(conn: C, text: string): boolean;
  /** The socket's send buffer drained. */
  drain?(conn: C): void;
}
