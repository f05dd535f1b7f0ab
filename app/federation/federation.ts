import type { Database } from "bun:sqlite";
import type { Logger } from "pino";
import type { Principal, Role } from "../auth/principal";
import type { DirectResponder } from "../direct/responder";
import { RequestError } from "../hub/connection";
import type { Hub } from "../hub/hub";
import type { Publish } from "../hub/stream-hub";
import { HubLink, type LinkState } from "../node/hub-link";
import type { CommandRecord, CommandResult } from "../protocol";
import type { Journal, JournalEntry } from "../store/journal";
import { fromUpstream, holdersToUpstream } from "./names";
import { UpstreamQueue } from "./upstream-queue";

export interface FederationOptions {
  /** The hub's base URL (`/v1/ws/stream` and `/v1/ws/commands` are appended). */
  url: string;
  /** A `skynode` token the hub issued for this telescope. */
  token: string;
  telescopeUid: string;
  hub: Hub;
  journal: Journal;
  db: Database;
  /** The appliance SkyNode's direct responder: it answers the hub's direct requests too. */
  direct: DirectResponder;
  log: Logger;
  maxBackoffMs: number;
  maxQueuedLogs: number;
  /** The link's state changed (shown in the telescope snapshot). */
  onStatus: (status: UpstreamStatus) => void;
}

export interface UpstreamStatus {
  state: LinkState;
  url: string;
  since: string;
  last_error: string | null;
  retry_ms: number | null;
  queued_logs: number;
}

/** Past this many bytes waiting on the link, snapshots are coalesced (latest wins) instead of queued. */
const SNAPSHOT_HIGH_WATER = 256 * 1024;
const COALESCE_MS = 100;

/** The appliance federated upstream: to the hub it is the SkyNode of its telescope. The hub's commands are
 * submitted to the appliance's own hub (origin kind `hub`, user `upstream/NAME`), which checks them against the one
 * lease of the telescope, whichever side acquired it, journals them and runs them; results and lease events follow
 * the journal upstream, in order and durably; snapshots go latest-only, logs queued. The appliance keeps working
 * locally while the hub is unreachable. */
export class Federation {
  private readonly link: HubLink;
  private readonly queue: UpstreamQueue;
  private readonly latest = new Map<string, Publish>();
  private readonly dirty = new Set<string>();
  private coalesce: ReturnType<typeof setTimeout> | undefined;
  private status: UpstreamStatus;
  private stopped = false;

  constructor(private readonly opts: FederationOptions) {
    const uid = opts.telescopeUid;
    checkUpstreamToken(opts.token, uid);
    this.status = { state: "connecting", url: opts.url, since: new Date().toISOString(), last_error: null, retry_ms: null, queued_logs: 0 };
    const log = opts.log.child({ part: "federation", upstream: opts.url });
    this.queue = new UpstreamQueue(opts.db, opts.journal, uid, opts.url, opts.maxQueuedLogs, log);
    this.link = new HubLink({
      url: () => opts.url,
      token: () => opts.token,
      telescopeUid: uid,
      outbox: this.queue,
      log,
      maxBackoffMs: opts.maxBackoffMs,
      onState: (state, detail) => this.setStatus(state, detail),
      onCommand: (record) => this.command(record),
      onCancel: (id) => this.cancel(id),
      // The appliance's own hub is the lease's authority; the hub learns it from the lease events sent up.
      onLease: () => {},
      onConnected: () => this.republish(),
      onLeaseSynced: () => {},
      direct: opts.direct,
    });
    opts.hub.stream.onPublish((msg) => {
      if (!this.stopped && msg.telescope_uid === uid) this.published(msg);
    });
    opts.journal.onAppend((e) => {
      // After the append's own work (fan-out, lease book) is done.
      if (e.telescope_uid === uid) queueMicrotask(() => this.journalled(e));
    });
  }

  start(): void {
    if (!this.stopped) this.link.start();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.coalesce);
    this.link.stop();
  }

  get upstreamStatus(): UpstreamStatus {
    return { ...this.status, queued_logs: this.queue.queuedLogs() };
  }

  private setStatus(state: LinkState, detail?: { code?: number; reason?: string; retry_ms?: number }): void {
    const last_error = state === "disconnected" ? (detail?.reason || (detail?.code ? `closed (${detail.code})` : "unreachable")) : this.status.last_error;
    if (state === this.status.state && state !== "disconnected") return;
    // "connecting" again after a failure keeps the failure's time and reason: the link has been down since then.
    if (state === "connecting" && this.status.state === "disconnected") return;
    // Another failed attempt: still down since the first failure; only the reason and the next retry are new.
    const since = state === "disconnected" && this.status.state === "disconnected" ? this.status.since : new Date().toISOString();
    this.status = { ...this.status, state, since, last_error, retry_ms: detail?.retry_ms ?? null };
    this.opts.onStatus(this.upstreamStatus);
  }

  /** A command of the hub's: run it here under the same rules as a local user's. */
  private command(record: CommandRecord): void {
    const uid = this.opts.telescopeUid;
    if (record.telescope_uid !== uid) return;
    const known = this.opts.journal.find(uid, record.command_id, "command");
    if (known) {
      // The hub resends its open commands after a reconnect: one already taken has its result on the way.
      if ((known.body as CommandRecord).origin.kind === "hub") return;
      return this.refuse(record.command_id, new RequestError("conflict", `command_id ${record.command_id} is already used on the appliance`));
    }
    const role: Role = record.origin.role ?? "operator";
    const principal: Principal = { sub: fromUpstream(record.origin.sub), role, telescopes: new Set([uid]) };
    try {
      this.opts.hub.commands.submit(principal, { kind: "hub", client: `upstream:${record.origin.client}` }, record);
    } catch (err) {
      this.refuse(record.command_id, err);
    }
  }

  /** A command the appliance's hub refused (lease held by another, telescope busy…) gets its error as its result. */
  private refuse(commandId: string, err: unknown): void {
    const e = err instanceof RequestError ? err : new RequestError("internal", (err as Error).message);
    const result: CommandResult = holdersToUpstream(
      { command_id: commandId, status: "error", error: { code: e.code, message: e.message, ...(e.details ? { details: e.details as Record<string, unknown> } : {}) } },
      this.opts.telescopeUid,
    );
    // Not queued: if it is lost, the hub resends the still-open command after reconnecting and gets it again.
    this.link.send({ id: `r:${commandId}`, endpoint: "commands", frame: { kind: "publish_command_result", telescope_uid: this.opts.telescopeUid, result } });
  }

  /** The hub relays a cancel only for its own commands (it checked who may cancel). */
  private cancel(commandId: string): void {
    const uid = this.opts.telescopeUid;
    const known = this.opts.journal.find(uid, commandId, "command");
    if ((known?.body as CommandRecord | undefined)?.origin.kind !== "hub") return;
    try {
      this.opts.hub.commands.cancel({ sub: "upstream", role: "owner", telescopes: new Set([uid]) }, commandId);
    } catch (err) {
      this.opts.log.warn({ command_id: commandId, err: (err as Error).message }, "upstream cancel not relayed");
    }
  }

  private journalled(e: JournalEntry): void {
    if (this.stopped) return;
    const frame = this.queue.frameFor(e);
    if (frame) this.link.send(frame);
  }

  private published(msg: Publish): void {
    if (msg.kind === "publish_telescope_log") {
      const frame = this.queue.addLog(msg.entry);
      return this.link.send(frame);
    }
    const key = msg.kind === "publish_device_snapshot" ? `${msg.kind}:${msg.device_uid}` : msg.kind;
    this.latest.set(key, msg);
    this.dirty.add(key);
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.coalesce || !this.link.connected) return;
    if (this.link.bufferedAmount < SNAPSHOT_HIGH_WATER) return this.flush();
    this.coalesce = setTimeout(() => {
      this.coalesce = undefined;
      this.flushSoon();
    }, COALESCE_MS);
  }

  private flush(): void {
    for (const key of this.dirty) {
      const { kind, id: _id, telescope_uid: _t, ...body } = this.latest.get(key)!;
      this.link.publish(kind, kind === "publish_telescope_snapshot" ? holdersToUpstream(body, this.opts.telescopeUid) : body);
    }
    this.dirty.clear();
  }

  /** Connected (again): the hub may have restarted and lost its retained state; send the latest of everything. */
  private republish(): void {
    for (const key of this.latest.keys()) this.dirty.add(key);
    this.flushSoon();
  }
}

/** The token must be a skynode token for this appliance's telescope: refuse to start otherwise (it could only ever
 * be refused by the hub, connection after connection). Only the claims are read; the hub verifies the signature. */
export function checkUpstreamToken(token: string, telescopeUid: string): void {
  let claims: { role?: string; tel?: string[] };
  try {
    claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
  } catch {
    throw new Error("[upstream] token is not a JWT: ask the hub for one (token issue --role skynode --telescope UID)");
  }
  if (claims.role !== "skynode") throw new Error(`[upstream] token has role ${claims.role}: it must be a skynode token`);
  if (claims.tel?.length !== 1 || claims.tel[0] !== telescopeUid) {
    throw new Error(`[upstream] token is for telescope ${claims.tel?.join(",")}, but this appliance's telescope uid is ${telescopeUid} ([telescope] uid)`);
  }
}
