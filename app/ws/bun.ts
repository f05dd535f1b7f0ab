import type { Logger } from "pino";
import type { Principal } from "../auth/principal";
import type { Endpoint } from "./endpoint";
import { FramePipeline, type FrameLimits, type Session } from "./pipeline";
import type { ConnectionRegistry } from "./registry";
import type { WsSocket } from "./socket";

/** An upgrade refused: the HTTP status and the reason, as the response body. */
export type Refusal = { ok: false; status: 400 | 401 | 403 | 409; reason: string };
/** An upgrade accepted: who connects (and, for /v3, with which key), plus what the endpoint's open needs. */
export type Accepted = { ok: true; principal: Principal; apiKeyId?: string };

export interface RouteOptions<A extends Accepted> {
  /** Checks the upgrade request; may wait (a claim checked in Redis). */
  accept: (request: Request) => A | Refusal | Promise<A | Refusal>;
  limits: FrameLimits;
  registry: ConnectionRegistry;
  log: Logger;
}

type BunSocket = WsSocket & { data: unknown };

/** Binds an endpoint to an Elysia `.ws()` route: the only code that knows Bun's and Elysia's WebSocket objects.
 * Elysia parses and wraps every message; this takes raw frames straight from Bun instead (the pipeline needs a
 * frame's size and type before parsing, and parses each frame exactly once). */
export function wsRoute<C, M, A extends Accepted>(endpoint: Endpoint<C, M>, opts: RouteOptions<A>) {
  const pipeline = new FramePipeline(endpoint, opts.limits, opts.log);
  const accepted = new WeakMap<Request, Promise<A | Refusal>>();
  /** The outcome once known: open runs synchronously, so no frame can arrive before its handler is installed. */
  const settled = new WeakMap<Request, A | Refusal>();
  const live = new WeakMap<object, { session: Session<C>; forget: () => void }>();
  const accept = (request: Request) => {
    let outcome = accepted.get(request);
    if (!outcome) {
      outcome = Promise.resolve()
        .then(() => opts.accept(request))
        .catch((err: unknown): Refusal => {
          opts.log.error({ err, endpoint: endpoint.name }, "upgrade check failed");
          return { ok: false, status: 401, reason: "the server could not check these credentials: try again" };
        })
        .then((o) => (settled.set(request, o), o));
      accepted.set(request, outcome);
    }
    return outcome;
  };
  return {
    // Elysia runs beforeHandle as a route hook (a returned response refuses the upgrade) and once more inside the
    // upgrade handler: the WeakMap checks the credentials once per request.
    async beforeHandle({ request, status }: { request: Request; status: (code: Refusal["status"], body: string) => unknown }) {
      const outcome = await accept(request);
      if (!outcome.ok) return status(outcome.status, outcome.reason);
    },
    open(ws: { raw: BunSocket; data: { request: Request } }) {
      const socket = ws.raw;
      const outcome = settled.get(ws.data.request);
      if (!outcome?.ok) return socket.close(1008, "unauthenticated");
      pipeline.guard("open", () => {
        const conn = endpoint.open(outcome.principal, socket, outcome);
        const forget = opts.registry.add({ principal: outcome.principal, apiKeyId: outcome.apiKeyId, close: (code, reason) => socket.close(code, reason) });
        // A SkyNode is the hub's own publisher, paced by its devices: it is not rate-limited.
        const session = pipeline.session(conn, socket, outcome.principal.role !== "skynode");
        live.set(socket, { session, forget });
        const handlers = socket.data as { message: (raw: unknown, data: string | Buffer) => void; drain: () => void };
        handlers.message = (_raw, data) => pipeline.frame(session, data);
        const drain = endpoint.drain;
        if (drain) handlers.drain = () => pipeline.guard("drain", () => drain.call(endpoint, conn));
      });
    },
    close(ws: { raw: object }) {
      const entry = live.get(ws.raw);
      if (!entry) return;
      live.delete(ws.raw);
      entry.forget();
      pipeline.guard("close", () => endpoint.close(entry.session.conn));
    },
  };
}
