import { loadSigningKey } from "../auth/signing-key";
import type { Config } from "../config/schema";
import { Hub } from "../hub/hub";
import { createLogger } from "../log";
import { createApp } from "../server/app";
import { openDatabase } from "../store/database";
import { Journal } from "../store/journal";
import { JournalRetention } from "../store/journal-retention";
import { issueToken } from "../auth/principal";
import type { Logger } from "pino";
import type { SkyNode } from "../node/skynode";
import { SetupCode } from "../auth/setup-code";
import { UserStore } from "../store/users";
import type { Federation } from "../federation/federation";
import { MemoryPresence } from "../groups/presence";
import { GroupHub } from "../groups/group-hub";
import { ApiKeyStore } from "../store/api-keys";
import { LogTopic } from "../topics/log-topic";
import { telemetryTopics } from "../topics/telemetry-topics";
import { TopicHub } from "../topics/topic-hub";
import { MemoryClientOwners, RedisClientOwners } from "../groups/client-owners";
import { ConnectionRegistry } from "../ws/registry";
import { EventLoopLag } from "../server/event-loop-lag";
import { safeState } from "../node/safe-state";
import { installFaultGuard } from "./fault-guard";

const DEVICES_READY_WAIT_MS = 5000;
/** How often journal retention runs after its pass at start-up. */
const RETENTION_INTERVAL_MS = 3_600_000;

export interface ServeOptions {
  host: string;
  port: number;
  dataDir: string;
  role: "appliance" | "hub";
  config: Config;
}

/** A running server: what `serve` and the in-process benchmarks hold on to. */
export interface Running {
  node: SkyNode | undefined;
  server: NonNullable<ReturnType<typeof createApp>["server"]>;
  log: Logger;
  /** Stops the SkyNode (its devices safe), the hub and the listener, and closes the database. */
  stop(): Promise<void>;
  /** While no account exists: the one-time code first-boot setup asks for. */
  setupCode: string | null;
}

/** Starts the server (and, in the appliance role, its SkyNode once the devices had their first initialisation) and
 * resolves once it listens. */
export async function startServer(opts: ServeOptions): Promise<Running> {
  if (opts.config.upstream) {
    if (opts.role !== "appliance") throw new Error("[upstream] federates an appliance to a hub: it is not for --role hub");
    (await import("../federation/federation")).checkUpstreamToken(opts.config.upstream.token, opts.config.telescope.uid);
  }
  // The /wss `server_logs` topic reads every log line; it is attached to the topic hub once that exists.
  const logTopic = new LogTopic();
  const log = createLogger(undefined, logTopic);
  const db = openDatabase(opts.dataDir, opts.config.store.busy_timeout_ms);
  const journal = new Journal(db);
  // The journal is the hub's (the appliance's SkyNode only reads it): its retention runs here, in either role.
  const journalRetention = new JournalRetention(db, opts.config.store.journal_keep_days, log.child({ part: "retention" }));
  const pruneJournal = () => {
    journalRetention.run().catch((err: unknown) => log.error({ err }, "journal retention pass failed"));
  };
  pruneJournal();
  const retentionTimer = setInterval(pruneJournal, RETENTION_INTERVAL_MS);
  retentionTimer.unref();
  const sc = opts.config.server;
  const limits = { maxFrameBytes: sc.max_frame_bytes, maxJsonDepth: sc.max_json_depth, framesPerSecond: sc.max_frames_per_s };
  const registry = new ConnectionRegistry();
  const lag = new EventLoopLag();
  if (opts.config.backplane && opts.role !== "hub") {
    throw new Error("[backplane] is for --role hub (several hub instances sharing Redis); the appliance is one process and needs none");
  }
  const bpConfig = opts.config.backplane;
  const backplane = bpConfig
    ? await (await import("../hub/redis-backplane")).RedisBackplane.connect({
        url: bpConfig.redis_url,
        routeTtlMs: bpConfig.route_ttl_ms,
        rpcTimeoutMs: bpConfig.rpc_timeout_ms,
        log,
      })
    : undefined;
  const hub = new Hub({
    journal,
    log,
    directChunkBytes: sc.direct_chunk_bytes,
    maxSubscriptions: sc.max_subscriptions,
    maxOpenDirectRequests: sc.max_open_direct_requests,
    backplane,
  });
  await hub.joinBackplane();
  // Topics (seed 003) and groups (seed 004): in process, or across the instances through Redis channels.
  const bus = bpConfig ? await (await import("../hub/redis-channel-bus")).RedisChannelBus.connect(bpConfig.redis_url, log) : null;
  const messaging = opts.config.messaging;
  const topics = new TopicHub({ bus, maxSubscriptions: messaging.max_topic_subscriptions, log });
  hub.stream.onEvent(telemetryTopics(topics));
  logTopic.attach(topics, { relay: bus !== null, instance: backplane?.instanceId });
  const presence = bus ? new (await import("../groups/redis-presence")).RedisPresence(bus.redis) : new MemoryPresence();
  const owners = bus ? new RedisClientOwners(bus.redis) : new MemoryClientOwners();
  const apiKeys = new ApiKeyStore(db);
  const groups = new GroupHub({
    presence,
    bus,
    owners,
    presenceTtlMs: messaging.presence_ttl_s * 1000,
    apiKeyLive: (id) => apiKeys.isLive(id),
    log,
  });
  const signingKey = loadSigningKey(opts.dataDir);
  // The appliance's own SkyNode; it attaches to this server's hub like any SkyNode once the server listens.
  const node =
    opts.role === "appliance"
      ? new (await import("../node/skynode")).SkyNode({
          config: opts.config,
          dataDir: opts.dataDir,
          db,
          // A fresh skynode token per (re)connect, signed with this server's key. It never leaves the process, and
          // its expiry closes the link (as for any token): 30 days, so a night's session is never cut by it.
          token: () =>
            issueToken(signingKey, { sub: `skynode@${opts.config.telescope.uid}`, role: "skynode", telescopes: [opts.config.telescope.uid], ttlSec: 30 * 86_400 }),
        })
      : undefined;
  const users = new UserStore(db);
  const setup = new SetupCode(opts.dataDir);
  const setupCode = users.count() === 0 ? setup.ensure() : null;
  const app = createApp({
    hub,
    topics,
    groups,
    apiKeys,
    presenceTtlS: messaging.presence_ttl_s,
    users,
    setup,
    log,
    signingKey,
    node,
    allowedOrigins: sc.allowed_origins,
    limits,
    registry,
    lag,
    backplane,
    bus,
    role: opts.role,
    telescopeUid: opts.role === "appliance" ? opts.config.telescope.uid : undefined,
  });
  // development: false serves the web UI's production bundle, without the dev server's hot-reload client.
  app.listen({ hostname: opts.host, port: opts.port, development: false } as Parameters<typeof app.listen>[0]);
  const server = app.server!;
  hub.bindServer(server);
  topics.bindServer(server);
  groups.bindServer(server);
  // The appliance's own telescope: direct requests are answered in process, from its files straight to the socket.
  if (node) hub.commands.direct.serveLocally(node.telescope.uid, node.direct);
  if (node) {
    // The SkyNode's first snapshots should say what the devices are: the serial devices get their first
    // initialisation first (bounded, so that a dead device only delays the SkyNode, never the web UI for long).
    await Promise.race([node.telescope.devices.ready, Bun.sleep(DEVICES_READY_WAIT_MS)]);
    const host = !server.hostname || server.hostname === "0.0.0.0" || server.hostname === "::" ? "127.0.0.1" : server.hostname;
    node.start(`ws://${host.includes(":") ? `[${host}]` : host}:${server.port}`);
  }
  let federation: Federation | undefined;
  if (node && opts.config.upstream) {
    const up = opts.config.upstream;
    const { Federation } = await import("../federation/federation");
    federation = new Federation({
      url: up.url,
      token: up.token,
      telescopeUid: node.telescope.uid,
      hub,
      journal,
      db,
      direct: node.direct,
      log,
      maxBackoffMs: up.max_backoff_s * 1000,
      maxQueuedLogs: up.max_queued_logs,
      onStatus: (status) => node.reportUpstream({ ...status }),
    });
    node.reportUpstream({ ...federation.upstreamStatus });
    // The hub resends its open commands as soon as the link is up: the SkyNode should be there to take them.
    const started = federation;
    (async () => {
      for (let waited = 0; !node.attached && waited < DEVICES_READY_WAIT_MS; waited += 20) await Bun.sleep(20);
      started.start();
    })().catch((err: unknown) => log.error({ err }, "federation did not start"));
  }
  return {
    node,
    server,
    log,
    setupCode,
    async stop() {
      clearInterval(retentionTimer);
      lag.stop();
      federation?.stop();
      await node?.stop();
      await hub.stop();
      await groups.stop();
      await app.stop(true);
      await bus?.stop();
      db.close();
    },
  };
}

/** `skynode serve`: starts the server and prints `listening on` once it listens; SIGTERM/SIGINT close it cleanly
 * and exit 0. */
export async function serve(opts: ServeOptions): Promise<void> {
  let running: Running | undefined;
  const early = createLogger();
  // Before anything else: a fault while starting up is caught too.
  installFaultGuard({
    log: () => running?.log ?? early,
    safeState: (reason) => (running?.node ? safeState(running.node.telescope, reason) : Promise.resolve()),
    exit: (code) => process.exit(code),
  });
  const started = startServer(opts).then((r) => (running = r));
  let stopping = false;
  // Handlers go in before `listening on` is printed: whoever reads that line may SIGTERM at once.
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const r = await started;
    r.log.info({ signal }, "shutting down");
    await r.stop();
    r.log.flush();
    process.exit(0);
  };
  const onSignal = (signal: string) => () =>
    shutdown(signal).catch((err: unknown) => {
      (running?.log ?? early).error({ err, signal }, "clean shutdown failed");
      process.exit(1);
    });
  process.on("SIGTERM", onSignal("SIGTERM"));
  process.on("SIGINT", onSignal("SIGINT"));
  const { server, log, setupCode } = await started;
  log.info({ host: server.hostname, port: server.port, role: opts.role, data: opts.dataDir }, "listening");
  console.log(`listening on http://${server.hostname}:${server.port}`);
  if (setupCode) {
    log.warn({ setup_code: setupCode }, "no account yet: create the admin with this setup code");
    console.log(`setup code: ${setupCode} (no account yet: open http://${server.hostname}:${server.port}/ to create the admin)`);
  }
  // Module loading and schema building leave garbage behind: collect it now so idle RSS starts low.
  Bun.gc(true);
}
