import type { Logger } from "pino";
import {
  LeaseGrant,
  PublishCommand,
  type CommandRecord,
  type CommandResult,
  type CommandsInbound,
  type LeaseState,
  type Origin,
} from "../protocol";
import { reachesTelescope, type Principal } from "../auth/principal";
import type { Journal, JournalEntry } from "../store/journal";
import { isOwner, requireCommandAuthority, requirePublisherFor, requireTelescope, scopedFilter } from "./authority";
import { RequestError, sendAck, sendError, sendJson, type Conn } from "./connection";
import type { Backplane, BackplaneEvent, RpcReply, RpcRequest, WirePrincipal } from "./backplane";
import { DirectRelay } from "./direct-relay";
import { eventRenderer, Fanout, type EventKey, type Filter } from "./fanout";
import { LeaseBook } from "./lease-book";

/** The commands endpoint's messages past the lifecycle kinds (ping, pong, ack), which the hub answers itself. */
export type CommandsMessage = Exclude<CommandsInbound, { kind: "ping" | "pong" | "ack" }>;
type Msg<K extends CommandsMessage["kind"]> = Extract<CommandsMessage, { kind: K }>;

/** The subscription id under which the SkyNode connection receives its telescope's commands. */
export const SKYNODE_SUBSCRIPTION = "skynode";

interface OpenCommand {
  record: CommandRecord;
  seq: number;
}

export interface CommandHubLimits {
  /** Bytes per direct_response_chunk the hub streams itself. */
  chunkBytes: number;
  maxSubscriptions: number;
  maxOpenDirectRequests: number;
}

/** Journal rows a `since_seq` replay reads and sends at a time; between pages it lets other work run, and waits for
 * the socket to drain when the client reads slower than the journal is read. */
const REPLAY_PAGE = 256;

/** `/v1/ws/commands`: commands in from users, out to the telescope's SkyNode and to subscribers; results back;
 * cancel relayed; leases derived from lease results; direct requests routed. Everything is journalled first. */
export class CommandHub {
  private readonly fanout: Fanout;
  private readonly skynodes = new Map<string, Conn>();
  private readonly open = new Map<string, OpenCommand>();
  /** Commands this instance routed to the instance holding their telescope (for a cancel naming only the id). */
  private readonly routed = new Map<string, string>();
  readonly leases: LeaseBook;
  readonly direct: DirectRelay;

  constructor(
    private readonly journal: Journal,
    publishText: (topic: string, text: string) => void,
    announceLease: (telescopeUid: string, seq: number, lease: LeaseState) => void,
    private readonly log: Logger,
    limits: CommandHubLimits,
    /** Other hub instances (scale-out), or null in a single process. */
    private readonly backplane: Backplane | null = null,
  ) {
    this.fanout = new Fanout("commands", publishText, limits.maxSubscriptions);
    this.leases = new LeaseBook(journal, announceLease, log);
    this.direct = new DirectRelay((uid) => this.skynodes.get(uid), limits.chunkBytes, log, limits.maxOpenDirectRequests);
    for (const e of journal.openCommands()) {
      this.open.set(key(e.telescope_uid, e.command_id!), { record: e.body as CommandRecord, seq: e.seq });
    }
  }

  stop(): void {
    this.leases.stop();
  }

  /** A SkyNode connection takes over its telescope (the newest wins) and receives the commands still open. */
  attach(conn: Conn): void {
    const uid = skynodeTelescope(conn);
    if (uid === null) return;
    const previous = this.skynodes.get(uid);
    this.skynodes.set(uid, conn);
    if (previous && previous !== conn) {
      this.direct.connectionGone(previous);
      previous.ws.close(4001, `superseded by a newer SkyNode connection for ${uid}`);
    }
    this.log.info({ telescope_uid: uid, conn: conn.id }, "SkyNode connected");
    this.backplane?.claim(uid).catch((err) => this.log.error({ err: (err as Error).message, telescope_uid: uid }, "could not claim the routing entry"));
    for (const c of this.open.values()) {
      if (c.record.telescope_uid === uid) sendJson(conn, commandEvent(SKYNODE_SUBSCRIPTION, c.seq, c.record));
    }
  }

  close(conn: Conn): void {
    this.fanout.dropConnection(conn);
    this.direct.connectionGone(conn);
    const uid = skynodeTelescope(conn);
    if (uid !== null && this.skynodes.get(uid) === conn) {
      this.skynodes.delete(uid);
      this.backplane?.release(uid);
      this.log.warn({ telescope_uid: uid, conn: conn.id }, "SkyNode disconnected");
    }
  }

  handle(conn: Conn, msg: CommandsMessage): void | Promise<void> {
    switch (msg.kind) {
      case "subscribe_commands":
        return this.subscribe(conn, msg);
      case "unsubscribe_commands":
        return this.fanout.unsubscribeRequest(conn, msg);
      case "publish_command": {
        if (this.backplane && !this.skynodes.has(msg.telescope_uid)) return this.route(conn, msg.id ?? msg.command_id, msg.telescope_uid, commandRequest(conn, msg));
        const { seq } = this.submit(conn.principal, { kind: "user", client: conn.id }, msg);
        return sendAck(conn, msg.id ?? msg.command_id, { command_id: msg.command_id, seq });
      }
      case "publish_manual_control_lease":
        requirePublisherFor(conn.principal, msg.telescope_uid);
        this.leases.adopt(msg.telescope_uid, msg.lease);
        return sendAck(conn, msg.id);
      case "publish_command_result":
        return this.publishResult(conn, msg);
      case "cancel_command": {
        const elsewhere = this.backplane && !this.findCommand(msg.command_id, conn.principal) && (msg.telescope_uid ?? this.routed.get(msg.command_id));
        if (elsewhere) return this.route(conn, msg.id ?? msg.command_id, elsewhere, { op: "cancel", principal: wirePrincipal(conn.principal), command_id: msg.command_id });
        this.cancel(conn.principal, msg.command_id);
        return sendAck(conn, msg.id ?? msg.command_id, { command_id: msg.command_id });
      }
      case "direct_request":
        requireTelescope(conn.principal, msg.telescope_uid);
        return this.direct.request(conn, msg);
      default:
        return this.direct.response(conn, msg);
    }
  }

  /** An event another hub instance published. */
  applyRemote(e: Extract<BackplaneEvent, { t: "commands" }>): void {
    this.fanout.publish(e.key, eventRenderer(e.kind, e.body));
  }

  /** Another instance took over a telescope's SkyNode: the newest connection wins, across instances too. */
  claimedElsewhere(uid: string): void {
    const conn = this.skynodes.get(uid);
    if (!conn) return;
    this.skynodes.delete(uid);
    this.direct.connectionGone(conn);
    conn.ws.close(4001, `superseded by a newer SkyNode connection for ${uid} on another hub instance`);
  }

  /** A request routed here by another instance, for a telescope whose SkyNode is connected here. */
  answer(req: RpcRequest): RpcReply {
    const p: Principal = { sub: req.principal.sub, role: req.principal.role as Principal["role"], telescopes: req.principal.telescopes ? new Set(req.principal.telescopes) : null };
    try {
      if (req.op === "cancel") {
        this.cancel(p, req.command_id);
        return { ok: true };
      }
      if (!this.skynodes.has(req.msg.telescope_uid)) return { ok: false, code: "not_found", message: `telescope ${req.msg.telescope_uid} has no SkyNode connected` };
      const parsed = PublishCommand.safeParse({ kind: "publish_command", ...req.msg });
      if (!parsed.success) return { ok: false, code: "invalid", message: "routed command is malformed" };
      return { ok: true, seq: this.submit(p, { kind: "user", client: req.client }, parsed.data).seq };
    } catch (err) {
      if (err instanceof RequestError) return { ok: false, code: err.code, message: err.message, details: err.details };
      this.log.error({ err }, "routed request failed");
      return { ok: false, code: "internal", message: (err as Error).message };
    }
  }

  /** Sends a request to the instance holding the telescope's SkyNode and answers the caller with its reply. */
  private route(conn: Conn, id: string, telescopeUid: string, req: RpcRequest): void {
    requireTelescope(conn.principal, telescopeUid);
    const bp = this.backplane!;
    (async () => {
      const owner = await bp.owner(telescopeUid);
      if (!owner) return sendError(conn, id, "not_found", `telescope ${telescopeUid} has no SkyNode connected`);
      const reply = await bp.call(owner, req);
      if (!reply.ok) return sendError(conn, id, reply.code, reply.message, reply.details);
      if (req.op === "command") {
        this.routed.set(req.msg.command_id, telescopeUid);
        if (this.routed.size > 10_000) this.routed.delete(this.routed.keys().next().value!);
        return sendAck(conn, id, { command_id: req.msg.command_id, seq: reply.seq });
      }
      sendAck(conn, id, { command_id: req.command_id });
      // The other instances are out of reach (Redis): the telescope may well be there, so this is no not_found.
    })().catch((err: unknown) => sendError(conn, id, "internal", `telescope ${telescopeUid} could not be reached: ${(err as Error).message}`));
  }

  /** Delivers a command-side event here and on the other instances. */
  private announce(key: EventKey, kind: string, body: object): void {
    this.fanout.publish(key, eventRenderer(kind, body));
    this.backplane?.broadcast({ t: "commands", key, kind, body });
  }

  private subscribe(conn: Conn, msg: Msg<"subscribe_commands">): void | Promise<void> {
    const filter = scopedFilter(conn.principal, msg.filter);
    const streams = msg.streams ? new Set<string>(msg.streams) : null;
    if (msg.since_seq === undefined) {
      this.fanout.subscribe(conn, msg.subscription_id, streams, filter);
      return sendAck(conn, msg.id ?? msg.subscription_id);
    }
    this.fanout.checkQuota(conn, msg.subscription_id);
    if (conn.replaying) throw new RequestError("conflict", "a since_seq replay is already running on this connection: subscribe again once it has finished");
    const telescopes = [...(filter.telescope_uid ?? this.journal.telescopes())];
    sendAck(conn, msg.id ?? msg.subscription_id);
    return this.replay(conn, msg.subscription_id, streams, filter, telescopes, msg.since_seq);
  }

  /** Sends what the journal holds after `sinceSeq`, a page at a time, then goes live: the last page and the live
   * subscription happen in one synchronous step, so no event is missed or sent twice. */
  private async replay(conn: Conn, subscriptionId: string, streams: Set<string> | null, filter: Filter, telescopes: string[], sinceSeq: number): Promise<void> {
    conn.replaying = true;
    try {
      const after = new Map(telescopes.map((uid) => [uid, sinceSeq]));
      for (;;) {
        if (!conn.open) return;
        let more = false;
        const page: JournalEntry[] = [];
        for (const uid of telescopes) {
          const rows = this.journal.since(uid, after.get(uid)!, REPLAY_PAGE);
          if (rows.length > 0) after.set(uid, rows[rows.length - 1]!.seq);
          if (rows.length === REPLAY_PAGE) more = true;
          page.push(...rows);
        }
        let sent = 1;
        conn.ws.cork(() => {
          for (const e of page) {
            if (e.kind === "lease" || (streams && !streams.has(e.kind))) continue;
            if (conn.open) sent = conn.ws.sendText(JSON.stringify(replayEvent(subscriptionId, e)));
          }
        });
        if (!more) {
          if (conn.open) this.fanout.subscribe(conn, subscriptionId, streams, filter);
          return;
        }
        // Backpressured (-1): wait until the client has read it; else let other connections' frames run first.
        if (sent < 0) await new Promise<void>((resolve) => (conn.drainWaiters ??= []).push(resolve));
        else await Bun.sleep(0);
      }
    } finally {
      conn.replaying = false;
    }
  }

  /** Journals a command from `p` and hands it to the telescope's SkyNode; throws RequestError when refused. The
   * origin is filled here from the caller, never taken from the message: a user's socket, or (kind `hub`) the
   * federation bridge submitting for an upstream hub's user. */
  submit(p: Principal, via: { kind: "user" | "hub"; client: string }, msg: Pick<Msg<"publish_command">, "telescope_uid" | "command_id" | "command">): { seq: number } {
    const { telescope_uid, command_id, command } = msg;
    const lease = this.leases.active(telescope_uid);
    requireCommandAuthority(p, telescope_uid, command.command_type, lease);
    if (command.command_type === "manual_control_lease.acquire" && lease && lease.holder !== p.sub) {
      throw new RequestError("conflict", `the manual control lease on ${telescope_uid} is held by ${lease.holder}`, {
        holder: lease.holder,
        expires_at: lease.expires_at,
      });
    }
    const skynode = this.skynodes.get(telescope_uid);
    if (!skynode) throw new RequestError("not_found", `telescope ${telescope_uid} has no SkyNode connected`);
    if (this.open.has(key(telescope_uid, command_id)) || this.journal.find(telescope_uid, command_id, "command")) {
      throw new RequestError("conflict", `command_id ${command_id} was already used on ${telescope_uid}`);
    }
    const origin: Origin = { kind: via.kind, sub: p.sub, client: via.client, role: p.role };
    const record: CommandRecord = { telescope_uid, command_id, command, origin };
    const entry = this.journal.append(telescope_uid, "command", command_id, record);
    this.open.set(key(telescope_uid, command_id), { record, seq: entry.seq });
    sendJson(skynode, commandEvent(SKYNODE_SUBSCRIPTION, entry.seq, record));
    this.announce({ stream: "command", telescope_uid }, "event_command", { seq: entry.seq, command: record });
    return { seq: entry.seq };
  }

  private publishResult(conn: Conn, msg: Msg<"publish_command_result">): void {
    const { telescope_uid, result } = msg;
    requirePublisherFor(conn.principal, telescope_uid);
    const k = key(telescope_uid, result.command_id);
    const open = this.open.get(k);
    if (!open) {
      const done = this.journal.find(telescope_uid, result.command_id, "command_result");
      // A replayed result (e.g. a SkyNode flushing its outbox after a reconnect) is harmless: acknowledge it again.
      if (done) return sendAck(conn, msg.id ?? result.command_id, { command_id: result.command_id, seq: done.seq });
      // Scaled out, the command may have been journalled by an instance that has since crashed: the SkyNode, now
      // here, still owes its result, and its users (on any instance) still wait for it. Record it rather than lose it.
      if (!this.backplane) throw new RequestError("not_found", `no command ${result.command_id} on ${telescope_uid}`);
      this.log.warn({ telescope_uid, command_id: result.command_id }, "result for a command journalled by another hub instance");
    }
    const leaseChange = result.status === "ok" && open ? this.leaseChange(open.record, result) : null;
    const entry = this.journal.append(telescope_uid, "command_result", result.command_id, result);
    this.open.delete(k);
    this.announce({ stream: "command_result", telescope_uid }, "event_command_result", { seq: entry.seq, telescope_uid, result });
    if (leaseChange) this.leases.set(telescope_uid, leaseChange);
    sendAck(conn, msg.id ?? result.command_id, { command_id: result.command_id, seq: entry.seq });
  }

  /** The lease state an ok lease result leads to; malformed lease data is refused before anything is recorded. */
  private leaseChange(record: CommandRecord, result: CommandResult): LeaseState | null {
    const c = record.command;
    switch (c.command_type) {
      case "manual_control_lease.acquire":
      case "manual_control_lease.renew": {
        const grant = LeaseGrant.safeParse({ holder: record.origin.sub, ...result.data });
        if (!grant.success) {
          throw new RequestError("invalid", `${c.command_type} result data must be {lease_id, holder, expires_at}`, {
            issues: grant.error.issues,
          });
        }
        return { state: "active", ...grant.data };
      }
      case "manual_control_lease.release":
      case "system.abort_manual_control": {
        const current = this.leases.active(record.telescope_uid);
        if (!current || current.lease_id !== c.lease_id) return null;
        return { ...current, state: c.command_type === "system.abort_manual_control" ? "revoked" : "released" };
      }
      default:
        return null;
    }
  }

  /** Relays a cancel from `p` to the command's SkyNode; throws RequestError when refused. */
  cancel(p: Principal, commandId: string): void {
    const found = this.findCommand(commandId, p);
    if (!found) throw new RequestError("not_found", `no command ${commandId}`);
    const { record } = found;
    const lease = this.leases.active(record.telescope_uid);
    if (record.origin.sub !== p.sub && !isOwner(p) && lease?.holder !== p.sub) {
      throw new RequestError("forbidden", "only the command's issuer, the lease holder or an owner may cancel it");
    }
    if (!this.open.has(key(record.telescope_uid, commandId))) {
      throw new RequestError("conflict", `command ${commandId} has already finished`);
    }
    const skynode = this.skynodes.get(record.telescope_uid);
    if (!skynode) throw new RequestError("not_found", `telescope ${record.telescope_uid} has no SkyNode connected`);
    sendJson(skynode, { kind: "cancel_command", command_id: commandId, telescope_uid: record.telescope_uid });
  }

  /** A cancel names only the command id: look in the open commands, then in the journal of the telescopes the
   * caller reaches (or the one it names). */
  private findCommand(commandId: string, p: Principal): OpenCommand | null {
    for (const c of this.open.values()) {
      if (c.record.command_id === commandId && reachesTelescope(p, c.record.telescope_uid)) return c;
    }
    const telescopes = p.telescopes ?? this.journal.telescopes();
    for (const uid of telescopes) {
      const e = this.journal.find(uid, commandId, "command");
      if (e) return { record: e.body as CommandRecord, seq: e.seq };
    }
    return null;
  }
}

const key = (telescopeUid: string, commandId: string) => `${telescopeUid}\u0000${commandId}`;

/** The telescope a `skynode` connection speaks for (its token names exactly one), or null for other roles. */
function skynodeTelescope(conn: Conn): string | null {
  if (conn.principal.role !== "skynode" || !conn.principal.telescopes) return null;
  return conn.principal.telescopes.values().next().value ?? null;
}

function commandEvent(subscriptionId: string, seq: number, command: CommandRecord) {
  return { kind: "event_command", subscription_id: subscriptionId, seq, command };
}

function replayEvent(subscriptionId: string, e: JournalEntry) {
  return e.kind === "command"
    ? commandEvent(subscriptionId, e.seq, e.body as CommandRecord)
    : { kind: "event_command_result", subscription_id: subscriptionId, seq: e.seq, telescope_uid: e.telescope_uid, result: e.body };
}

function wirePrincipal(p: Principal): WirePrincipal {
  return { sub: p.sub, role: p.role, telescopes: p.telescopes ? [...p.telescopes] : null };
}

function commandRequest(conn: Conn, msg: Msg<"publish_command">): RpcRequest {
  const { telescope_uid, command_id, command } = msg;
  return { op: "command", principal: wirePrincipal(conn.principal), client: conn.id, msg: { telescope_uid, command_id, command } };
}
