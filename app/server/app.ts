import { Elysia } from "elysia";
import { authenticateRequest, type Authenticate } from "../auth/request-auth";
import { authenticateGroupRequest } from "../auth/group-auth";
import type { Principal } from "../auth/principal";
import type { GroupHub, GroupUpgrade } from "../groups/group-hub";
import { PeerId } from "../protocol";
import type { TopicHub } from "../topics/topic-hub";
import type { Hub } from "../hub/hub";
import type { SkyNode } from "../node/skynode";
import type { Logger } from "pino";
import type { SetupCode } from "../auth/setup-code";
import type { ApiKeyStore } from "../store/api-keys";
import type { UserStore } from "../store/users";
import { wsRoute, type Accepted, type Refusal } from "../ws/bun";
import type { FrameLimits } from "../ws/pipeline";
import type { ConnectionRegistry } from "../ws/registry";
import { apiKeyRoutes } from "./apikey-routes";
import { authRoutes } from "./auth-routes";
import { catalogRoutes } from "./catalog-routes";
import type { EventLoopLag } from "./event-loop-lag";
import type { BackplaneStatus } from "../hub/backplane";
import type { ChannelBusStatus } from "../hub/channel-bus";
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
  /** What every WebSocket frame is held to (size, depth, rate). */
  limits: FrameLimits;
  /** Every open socket, under its account, token and key. */
  registry: ConnectionRegistry;
  lag: EventLoopLag;
  /** Scaled out: the links to the other instances (Redis), for /healthz. */
  backplane?: { readonly status: BackplaneStatus };
  bus?: { readonly status: ChannelBusStatus } | null;
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
  const { hub, registry } = opts;
  const started = Date.now();
  // Every entry authenticates the same way; sign-in sessions also need their account unchanged.
  const sessionValid = (p: Principal) => opts.users.sessionValid(p);
  const authenticate: Authenticate = (request) => authenticateRequest(request, opts.signingKey, opts.allowedOrigins, sessionValid);
  const groupAuth = (request: Request) => authenticateGroupRequest(request, { signingKey: opts.signingKey, verifyApiKey: (key) => opts.apiKeys.verify(key), sessionValid });
  const route = { limits: opts.limits, registry, log: opts.log };

  /** `/v3/ws/group/{g}/client/{c}`: the ids, both credentials, and the client id's account (409 for another's). */
  const acceptGroup = async (request: Request): Promise<(Accepted & GroupUpgrade) | Refusal> => {
    const ids = groupPath(new URL(request.url).pathname);
    if (!ids.ok) return ids;
    const outcome = groupAuth(request);
    if (!outcome.ok) return outcome;
    if (!(await opts.groups.claimClient(ids.client, outcome.account))) {
      return { ok: false, status: 409, reason: `client_id ${ids.client} belongs to another account: choose another client_id` };
    }
    return { ok: true, principal: outcome.principal, apiKeyId: outcome.apiKeyId, account: outcome.account, group: ids.group, client: ids.client };
  };

  return new Elysia({
    websocket: {
      maxPayloadLength: opts.limits.maxFrameBytes * HARD_FRAME_CAP_FACTOR,
      // Past this many bytes buffered for one socket, Bun drops further frames to it (README: slow consumers).
      backpressureLimit: 16 * 1024 * 1024,
      idleTimeout: 120,
      sendPings: true,
    },
  })
    .get("/", ui as never)
    .get("/healthz", () => {
      const backplane = opts.backplane?.status ?? null;
      const bus = opts.bus?.status ?? null;
      // Still 200: restarting this instance would not bring Redis back; "degraded" says what is missing.
      const degraded = backplane?.state === "disconnected" || bus?.state === "disconnected";
      return {
        status: degraded ? "degraded" : "ok",
        role: opts.role,
        telescope_uid: opts.telescopeUid,
        connections: registry.size,
        uptime_s: Math.round((Date.now() - started) / 1000),
        event_loop_lag_ms: opts.lag.maxMs(),
        ...(backplane ? { backplane } : {}),
        ...(bus ? { messaging_bus: bus } : {}),
      };
    })
    .ws("/v1/ws/stream", wsRoute(hub.streamEndpoint, { ...route, accept: authenticate }))
    .ws("/v1/ws/commands", wsRoute(hub.commandsEndpoint, { ...route, accept: authenticate }))
    .ws("/wss", wsRoute(opts.topics.endpoint, { ...route, accept: authenticate }))
    .ws("/v3/ws/group/:group_id/client/:client_id", wsRoute(opts.groups.endpoint, { ...route, accept: acceptGroup }))
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
        sessionsEnded: (name) => registry.closeAccount(name),
        sessionRevoked: (tokenId) => registry.closeToken(tokenId),
      }),
    )
    .use(apiKeyRoutes({ keys: opts.apiKeys, authenticate, revoked: (info) => registry.closeApiKey(info.id) }))
    .use(opts.node ? nodeRoutes(opts.node, authenticate) : new Elysia());
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
