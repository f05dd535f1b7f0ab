import { Elysia } from "elysia";
import { authenticateRequest, type Authenticate, type AuthOutcome } from "../auth/request-auth";
import type { Conn, Endpoint, HubSocket } from "../hub/connection";
import type { Hub } from "../hub/hub";
import type { SkyNode } from "../node/skynode";
import type { Logger } from "pino";
import type { SetupCode } from "../auth/setup-code";
import type { UserStore } from "../store/users";
import { authRoutes } from "./auth-routes";
import { catalogRoutes } from "./catalog-routes";
// The web UI: Bun bundles the page, its TypeScript and CSS when the server starts (and into a compiled binary).
import ui from "../ui/index.html";
import { nodeRoutes } from "./node-routes";

export interface ServerOptions {
  hub: Hub;
  signingKey: Uint8Array;
  allowedOrigins: readonly string[];
  maxFrameBytes: number;
  role: "appliance" | "hub";
  telescopeUid?: string;
  /** The appliance's own SkyNode (absent in hub role): adds its REST routes. */
  node?: SkyNode;
  users: UserStore;
  setup: SetupCode;
  log: Logger;
}

/** Bun closes the socket (1009) above this hard cap; frames between the configured limit and it are answered
 * with `invalid` and the socket stays open. */
const HARD_FRAME_CAP_FACTOR = 4;

export function createApp(opts: ServerOptions) {
  const { hub } = opts;
  const auth = new WeakMap<Request, AuthOutcome>();
  const conns = new WeakMap<object, Conn>();
  const started = Date.now();
  // Every entry authenticates the same way; sign-in sessions also need their account unchanged.
  const authenticate: Authenticate = (request) => authenticateRequest(request, opts.signingKey, opts.allowedOrigins, (p) => opts.users.sessionValid(p));

  const endpoint = (name: Endpoint) => ({
    // Elysia calls beforeHandle as a route hook (whose returned response refuses the upgrade) and once more inside
    // the upgrade handler; the WeakMap keeps the token verified once per request.
    beforeHandle({ request, status }: { request: Request; status: (code: 401 | 403, body: string) => unknown }) {
      let outcome = auth.get(request);
      if (!outcome) auth.set(request, (outcome = authenticate(request)));
      if (!outcome.ok) return status(outcome.status, outcome.reason);
    },
    open(ws: { raw: HubSocket & { data: unknown }; data: { request: Request } }) {
      const outcome = auth.get(ws.data.request);
      if (!outcome?.ok) return ws.raw.close(1008, "unauthenticated");
      const conn = hub.open(name, outcome.principal, ws.raw);
      conns.set(ws.raw, conn);
      // Take raw frames straight from Bun instead of Elysia's per-message parse-and-wrap: the hub needs the frame's
      // size and type before parsing, and parses each frame exactly once itself.
      const handlers = ws.raw.data as { message: (raw: unknown, data: string | Buffer) => void; drain: () => void };
      handlers.message = (_raw, data) => hub.frame(conn, data);
      handlers.drain = () => hub.drain(conn);
    },
    close(ws: { raw: object }) {
      const conn = conns.get(ws.raw);
      if (conn) hub.close(conn);
    },
  });

  return new Elysia({
    websocket: {
      maxPayloadLength: opts.maxFrameBytes * HARD_FRAME_CAP_FACTOR,
      // Past this many bytes buffered for one socket, Bun drops further frames to it (README: slow consumers).
      backpressureLimit: 16 * 1024 * 1024,
      idleTimeout: 120,
      sendPings: true,
    },
  })
    .get("/", ui as never)
    .get("/healthz", () => ({
      status: "ok",
      role: opts.role,
      telescope_uid: opts.telescopeUid,
      connections: hub.connectionCount,
      uptime_s: Math.round((Date.now() - started) / 1000),
    }))
    .ws("/v1/ws/stream", endpoint("stream"))
    .ws("/v1/ws/commands", endpoint("commands"))
    .use(catalogRoutes(authenticate))
    .use(
      authRoutes({
        users: opts.users,
        setup: opts.setup,
        signingKey: opts.signingKey,
        allowedOrigins: opts.allowedOrigins,
        authenticate,
        log: opts.log,
        sessionsEnded: (name) => hub.endSessions(name),
      }),
    )
    .use(opts.node ? nodeRoutes(opts.node, authenticate) : new Elysia());
}
