import type { Logger } from "pino";
import type { Endpoint } from "./endpoint";
import { FrameRate } from "./frame-rate";
import { invalidFrame, oversize } from "./invalid-frame";
import { exceedsDepth } from "./json-depth";
import { protoKeyPath } from "./proto-key";
import { RequestError } from "./request-error";
import type { WsSocket } from "./socket";

export interface FrameLimits {
  /** Larger frames are answered `invalid` (Bun itself closes above 4×). */
  maxFrameBytes: number;
  /** Deeper nesting is answered `invalid` before the frame is parsed. */
  maxJsonDepth: number;
  /** Inbound frames per second per connection; null: not limited. */
  framesPerSecond: number | null;
}

/** One connection as the pipeline holds it. */
export interface Session<C> {
  readonly conn: C;
  readonly socket: WsSocket;
  readonly rate: FrameRate | null;
}

export const FLOOD_CLOSE = 1008;

/** The frame pipeline every endpoint shares: rate, binary policy, size, the endpoint's own pre-parse look, depth,
 * one JSON.parse, no "__proto__" keys, validation, and a guard around the handler. Whatever a frame is, it gets at most one answer (an
 * error in the endpoint's shape, or what the handler sends), and nothing it does escapes to Bun (an exception in a
 * WebSocket handler ends the process). */
export class FramePipeline<C, M> {
  constructor(
    private readonly endpoint: Endpoint<C, M>,
    private readonly limits: FrameLimits,
    private readonly log: Logger,
  ) {}

  session(conn: C, socket: WsSocket, limited: boolean): Session<C> {
    const perSecond = this.limits.framesPerSecond;
    return { conn, socket, rate: limited && perSecond !== null ? new FrameRate(perSecond) : null };
  }

  frame(s: Session<C>, data: string | Buffer): void {
    try {
      this.take(s, data);
    } catch (err) {
      this.failed(s, undefined, "frame", err);
    }
  }

  /** Runs an endpoint hook outside a frame (open, close, drain): a throw is logged, never escapes. */
  guard(what: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.log.error({ err, endpoint: this.endpoint.name, what }, "WebSocket handler failed");
    }
  }

  private take(s: Session<C>, data: string | Buffer): void {
    const e = this.endpoint;
    if (s.rate) {
      const r = s.rate.take();
      if (r.verdict === "flood") {
        this.log.warn({ endpoint: e.name }, "connection closed: it kept sending frames over its rate");
        return s.socket.close(FLOOD_CLOSE, `frames over ${this.limits.framesPerSecond}/s for too long`);
      }
      if (r.verdict === "refused") {
        if (r.answer > 0) {
          const message = `more than ${this.limits.framesPerSecond} frames per second: ${r.answer} frame(s) refused unread; slow down`;
          this.answer(s, undefined, "forbidden", message);
        }
        return;
      }
    }
    const max = this.limits.maxFrameBytes;
    if (typeof data !== "string") {
      if (!e.binary) return this.answer(s, undefined, "invalid", "binary frames are not accepted here: send JSON text frames");
      if (data.byteLength > max) return this.answer(s, undefined, "invalid", `frame of ${data.byteLength} bytes exceeds the ${max}-byte limit`);
      return e.binary(s.conn, data);
    }
    const bytes = oversize(data, max);
    if (bytes) return this.answer(s, undefined, "invalid", `frame of ${bytes} bytes exceeds the ${max}-byte limit`);
    if (e.raw?.(s.conn, data)) return;
    if (exceedsDepth(data, this.limits.maxJsonDepth)) {
      return this.answer(s, undefined, "invalid", `frame nests arrays and objects deeper than ${this.limits.maxJsonDepth} levels`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      return this.answer(s, undefined, "invalid", "frame is not valid JSON");
    }
    const id = e.idOf(raw);
    const proto = data.includes("__proto__") ? protoKeyPath(raw) : null;
    if (proto) return this.answer(s, id, "invalid", `${proto}: a key named "__proto__" is not accepted`);
    const parsed = e.schema.safeParse(raw);
    if (!parsed.success) {
      const { message, issues } = invalidFrame(parsed.error);
      return this.answer(s, id, "invalid", message, { issues });
    }
    const msg = parsed.data;
    try {
      const pending = e.handle(s.conn, msg);
      if (pending) pending.catch((err: unknown) => this.failed(s, id, e.label(msg), err));
    } catch (err) {
      this.failed(s, id, e.label(msg), err);
    }
  }

  /** A handler threw: its RequestError answers with its code; anything else is a fault, logged and answered. */
  private failed(s: Session<C>, id: string | undefined, kind: string, err: unknown): void {
    try {
      if (err instanceof RequestError) return this.answer(s, id, err.code, err.message, err.details);
      this.log.error({ err, endpoint: this.endpoint.name, kind }, "request failed");
      this.answer(s, id, "internal", `internal error: ${err instanceof Error ? err.message : String(err)}`);
    } catch (again) {
      this.log.error({ err: again, endpoint: this.endpoint.name, kind }, "could not answer a failed request");
    }
  }

  private answer(s: Session<C>, id: string | undefined, code: Parameters<Endpoint<C, M>["error"]>[1]["code"], message: string, details?: object): void {
    s.socket.sendText(this.endpoint.error(s.conn, { id, code, message, details }));
  }
}
