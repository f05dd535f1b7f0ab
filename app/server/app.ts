import { Elysia } from "elysia";
import { authenticateRequest, type Authenticate, type AuthOutcome } from "../auth/request-auth";
import { authenticateGroupRequest, type GroupAuthOutcome } from "../auth/group-auth";
import type { Principal } from "../auth/principal";
import type { GroupConn, GroupHub } from "../groups/group-hub";
import type { Conn, Endpoint, HubSocket } from "../hub/connection";
import { PeerId } from "../protocol";
import type { TopicConn, TopicHub } from "../topics/topic-hub";
import type { Hub } from "../hub/hub";
import type { SkyNode } from "../node/skynode";
import type { Logger } from "pino";
import type { SetupCode } from "../auth/setup-code";
import type { ApiKeyStore } from "../store/api-keys";
import type { UserStore } from "../store/users";
import { apiKeyRoutes } from "./apikey-routes";
import { authRoutes } from "./auth-routes";
import { catalogRoutes } from "./catalog-routes";
// The web UI: Bun bundles the page, its TypeScript and CSS when the server starts (and into a compiled binary).
import ui from "../ui/index.html";
import { nodeRoutes } from "./node-routes";

export interface ServerOptions {
  hub: Hub;
  /** `/wss` (seed 003) and `/v3/ws` (seed 004): docs/messaging.md. */
  topics: TopicHub;
  groups: GroupHub;
  presenceTtlS: number;
  /** Seed 004's machine keys (`api_key`). */
  apiKeys: ApiKeyStore;
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
  const started = Date.now();
  // Every entry authenticates the same way; sign-in sessions also need their account unchanged.
  const sessionValid = (p: Principal) => opts.users.sessionValid(p);
  const authenticate: Authenticate = (request) => authenticateRequest(request, opts.signingKey, opts.allowedOrigins, sessionValid);
  const groupAuth = (request: Request) => authenticateGroupRequest(request, { signingKey: opts.signingKey, verifyApiKey: (key) => opts.apiKeys.verify(key), sessionValid });

  const endpoint = (name: Endpoint) =>
    wsRoute<Conn>({
      authenticate,
      open: (outcome, ws) => hub.open(name, outcome.principal, ws),
      frame: (conn, data) => hub.frame(conn, data),
      drain: (conn) => hub.drain(conn),
      close: (conn) => hub.close(conn),
    });
  const topicsRoute = wsRoute<TopicConn>({
    authenticate,
    open: (outcome, ws) => opts.topics.open(outcome.principal, ws),
    frame: (conn, data) => opts.topics.frame(conn, data),
    close: (conn) => opts.topics.close(conn),
  });
  const groupRoute = wsRoute<GroupConn, { group: string; client: string } & Extract<GroupAuthOutcome, { ok: true }>>({
    authenticate: (request) => {
      const ids = groupPath(new URL(request.url).pathname);
      if (!ids.ok) return ids;
      const outcome = groupAuth(request);
      return outcome.ok ? { ...outcome, ...ids } : outcome;
    },
    open: (o, ws) => opts.groups.open({ group: o.group, client: o.client, principal: o.principal, account: o.account, apiKeyId: o.apiKeyId, ws }),
    frame: (conn, data) => opts.groups.frame(conn, data),
    close: (conn) => opts.groups.close(conn),
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
      connections: hub.connectionCount + opts.topics.connectionCount + opts.groups.connectionCount,
      uptime_s: Math.round((Date.now() - started) / 1000),
    }))
    .ws("/v1/ws/stream", endpoint("stream"))
    .ws("/v1/ws/commands", endpoint("commands"))
    .ws("/wss", topicsRoute)
    .ws("/v3/ws/group/:group_id/client/:client_id", groupRoute)
    .get("/v3/group/:group_id/presence", async ({ request, params }) => {
      const outcome = groupAuth(request);
      if (!outcome.ok) return new Response(outcome.reason, { status: outcome.status });
      const group = PeerId.safeParse(params.group_id);
      if (!group.success) return new Response(`group_id: ${group.error.issues[0]?.message}`, { status: 400 });
      const clients = (await opts.groups.presenceOf(group.data)).map((e) => ({ client_id: e.client_id, expires_at: new Date(e.expires_at).toISOString() }));
      return { group_id: group.data, ttl_s: opts.presenceTtlS, clients };
    })
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
    .use(apiKeyRoutes({ keys: opts.apiKeys, authenticate, revoked: (info) => opts.groups.closeKey(info.id) }))
    .use(opts.node ? nodeRoutes(opts.node, authenticate) : new Elysia());
}

type Refusal = { ok: false; status: 400 | 401 | 403; reason: string };

/** A WebSocket route: the upgrade is refused (HTTP status and reason) unless `authenticate` accepts it; then each
 * socket gets its connection object, and frames come raw from Bun. */
function wsRoute<C, A extends { ok: true } = Extract<AuthOutcome, { ok: true }>>(r: {
  authenticate: (request: Request) => A | Refusal;
  open: (outcome: A, ws: HubSocket) => C;
  frame: (conn: C, data: string | Buffer) => void;
  close: (conn: C) => void;
  drain?: (conn: C) => void;
}) {
  const outcomes = new WeakMap<Request, A | Refusal>();
  const conns = new WeakMap<object, C>();
  return {
    // Elysia calls beforeHandle as a route hook (whose returned response refuses the upgrade) and once more inside
    // the upgrade handler; the WeakMap keeps the credentials checked once per request.
    beforeHandle({ request, status }: { request: Request; status: (code: 400 | 401 | 403, body: string) => unknown }) {
      let outcome = outcomes.get(request);
      if (!outcome) outcomes.set(request, (outcome = r.authenticate(request)));
      if (!outcome.ok) return status(outcome.status, outcome.reason);
    },
    open(ws: { raw: HubSocket & { data: unknown }; data: { request: Request } }) {
      const outcome = outcomes.get(ws.data.request);
      if (!outcome?.ok) return ws.raw.close(1008, "unauthenticated");
      const conn = r.open(outcome, ws.raw);
      conns.set(ws.raw, conn);
      // Take raw frames straight from Bun instead of Elysia's per-message parse-and-wrap: the handlers need the
      // frame's size and type before parsing, and parse each frame exactly once themselves.
      const handlers = ws.raw.data as { message: (raw: unknown, data: string | Buffer) => void; drain: () => void };
      handlers.message = (_raw, data) => r.frame(conn, data);
      if (r.drain) handlers.drain = () => r.drain!(conn);
    },
    close(ws: { raw: object }) {
      const conn = conns.get(ws.raw);
      if (conn !== undefined) r.close(conn);
    },
  };
}

/** `/v3/ws/group/{group_id}/client/{client_id}`: the two ids, URL-decoded and checked. */
function groupPath(pathname: string): { ok: true; group: string; client: string } | Refusal {
  const m = /^\/v3\/ws\/group\/([^/]+)\/client\/([^/]+)\/?$/.exec(pathname);
  let ids: string[] = [];
  try {
    ids = m ? [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)] : [];
  } catch {
    return { ok: false, status: 400, reason: "group_id and client_id must be valid URL-encoded strings" };
  }
  const group = PeerId.safeParse(ids[0]);
  const client = PeerId.safeParse(ids[1]);
  if (!group.success) return { ok: false, status: 400, reason: `group_id: ${group.error.issues[0]?.message}` };
  if (!client.success) return { ok: false, status: 400, reason: `client_id: ${client.error.issues[0]?.message}` };
  return { ok: true, group: group.data, client: client.data };
}
