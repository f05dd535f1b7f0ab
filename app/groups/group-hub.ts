import type { Logger } from "pino";
import type { Principal } from "../auth/principal";
import type { ChannelBus } from "../hub/channel-bus";
import type { Endpoint } from "../ws/endpoint";
import { KEY_REVOKED } from "../ws/registry";
import type { WsSocket } from "../ws/socket";
import type { ClientOwners } from "./client-owners";
import { GroupInbound, type ErrorCode, type GroupMessage } from "../protocol";
import type { PresenceEntry, PresenceStore } from "./presence";

/** The part of the socket a group connection uses. */
export type GroupSocket = Pick<WsSocket, "sendText" | "subscribe" | "unsubscribe" | "close">;

/** What the /v3 upgrade accepted besides the principal: the path's ids, the account context and the key. */
export interface GroupUpgrade {
  group: string;
  client: string;
  account: string;
  apiKeyId: string;
}

/** One `/v3/ws/group/{group_id}/client/{client_id}` connection. */
export interface GroupConn {
  readonly group: string;
  readonly client: string;
  readonly principal: Principal;
  readonly account: string;
  readonly apiKeyId: string;
  readonly ws: GroupSocket;
  /** When it connected (ms): of two connections with one client id, the later wins. */
  readonly since: number;
  expiresAt: number;
  present: boolean;
  open: boolean;
  /** Closed because a newer connection took its client id: the group that connection is in. */
  replacedInto?: string;
}

export interface GroupHubOptions {
  presence: PresenceStore;
  /** Other hub instances (hub role with Redis); null in one process. */
  bus: ChannelBus | null;
  /** Which account each client id belongs to. */
  owners: ClientOwners;
  presenceTtlMs: number;
  /** Is this API key still live? Checked at each heartbeat (a key revoked by another process). */
  apiKeyLive: (id: string) => boolean;
  log: Logger;
}

export const REPLACED_CLOSE = { code: 4001, reason: "replaced by a newer connection with this client_id" } as const;

const localGroup = (group: string) => `v3:g:${group}`;
const LOCAL_ALL = "v3:all";
const busGroup = (group: string) => `skynode:v3:group:${group}`;
const busClient = (client: string) => `skynode:v3:client:${client}`;
const BUS_BROADCAST = "skynode:v3:broadcast";

/** What a message carries besides the server-filled fields. */
type Content = Pick<GroupMessage, "msg_type" | "target"> & Partial<Pick<GroupMessage, "to_id" | "cmd" | "msg" | "payload">>;

/** A claim travels on a client's channel; deliveries there are messages (they start with `{"version"`). */
interface Claim {
  claim: { since: number; group: string; instance: string };
}

/** Seed 004's group messaging (docs/messaging.md): targets group, direct, broadcast and echo; server-filled fields;
 * presence with a TTL per member; the newest connection of a client id wins. Delivery to this instance's sockets goes
 * through Bun's native topics (one serialization per message); the bus carries it to the other instances. */
export class GroupHub {
  private readonly clients = new Map<string, GroupConn>();
  private readonly groupMembers = new Map<string, number>();
  private readonly groupHandlers = new Map<string, (text: string) => void>();
  private readonly clientHandlers = new Map<string, (text: string) => void>();
  private publishText: (topic: string, text: string) => void = () => {};
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly instance = crypto.randomUUID();
  private readonly onBroadcast = (text: string) => this.publishText(LOCAL_ALL, text);

  constructor(private readonly opts: GroupHubOptions) {
    opts.bus?.join(BUS_BROADCAST, this.onBroadcast).catch(() => {});
    this.sweeper = setInterval(() => this.sweep(), Math.min(30_000, Math.max(50, opts.presenceTtlMs / 10)));
    this.sweeper.unref();
  }

  bindServer(server: { publish(topic: string, data: string): number }): void {
    this.publishText = (topic, text) => void server.publish(topic, text);
  }

  get connectionCount(): number {
    return this.clients.size;
  }

  open(init: { group: string; client: string; principal: Principal; account: string; apiKeyId: string; ws: GroupSocket }): GroupConn {
    const now = Date.now();
    const conn: GroupConn = { ...init, since: now, expiresAt: now + this.opts.presenceTtlMs, present: true, open: true };
    const older = this.clients.get(conn.client);
    if (older) this.replace(older, conn.group);
    this.clients.set(conn.client, conn);
    conn.ws.subscribe(localGroup(conn.group));
    conn.ws.subscribe(LOCAL_ALL);
    const joined = [this.joinGroup(conn.group)];
    const bus = this.opts.bus;
    if (bus) {
      const handler = (text: string) => this.fromClientChannel(conn.client, text);
      this.clientHandlers.set(conn.client, handler);
      joined.push(bus.join(busClient(conn.client), handler));
      const claim: Claim = { claim: { since: conn.since, group: conn.group, instance: this.instance } };
      bus.publish(busClient(conn.client), JSON.stringify(claim)).catch(this.busFailed);
    }
    this.announceJoin(conn, Promise.all(joined)).catch(this.busFailed);
    return conn;
  }

  close(conn: GroupConn): void {
    if (!conn.open) return;
    conn.open = false;
    this.leaveGroup(conn.group);
    if (this.clients.get(conn.client) === conn) {
      this.clients.delete(conn.client);
      const handler = this.clientHandlers.get(conn.client);
      if (handler) this.opts.bus?.leave(busClient(conn.client), handler);
      this.clientHandlers.delete(conn.client);
    }
    // Replaced within its own group: the newer connection holds the presence entry now.
    if (conn.replacedInto === conn.group || !conn.present) return;
    conn.present = false;
    this.opts.presence.remove(conn.group, conn.client).catch(this.busFailed);
    this.sendPresence(conn, "leave").catch(this.busFailed);
  }

  async presenceOf(group: string): Promise<PresenceEntry[]> {
    return await this.opts.presence.list(group, Date.now());
  }

  /** `/v3/ws/group/{group_id}/client/{client_id}` over the shared frame pipeline (app/ws): validated messages only;
   * errors come back as messages of the same schema (`cmd: "ERROR"`). */
  readonly endpoint: Endpoint<GroupConn, GroupInbound> = {
    name: "/v3/ws",
    schema: GroupInbound,
    open: (principal, ws, accepted) => {
      const a = accepted as GroupUpgrade;
      return this.open({ group: a.group, client: a.client, account: a.account, apiKeyId: a.apiKeyId, principal, ws });
    },
    handle: (conn, m) => this.handle(conn, m),
    close: (conn) => this.close(conn),
    error: (conn, r) => this.errorText(conn, r.code, r.message, (r.details as { issues?: unknown[] } | undefined)?.issues),
    idOf: () => undefined,
    label: (m) => `${m.msg_type}/${m.target}`,
  };

  /** May `account` use `client`? Its first account keeps it (the same account's newer connection still wins). */
  async claimClient(client: string, account: string): Promise<boolean> {
    return (await this.opts.owners.claim(client, account)) === account;
  }

  private handle(conn: GroupConn, m: GroupInbound): void {
    if (m.msg_type === "presence") return this.refuse(conn, "forbidden", "presence messages are sent by the server only");
    if (m.msg_type === "heartbeat") return this.heartbeat(conn, m);
    const text = JSON.stringify(this.message(conn, m));
    switch (m.target) {
      case "echo":
        conn.ws.sendText(text);
        return;
      case "group":
        this.publishText(localGroup(conn.group), text);
        this.toBus(busGroup(conn.group), text).catch(this.busFailed);
        return;
      case "broadcast":
        if (conn.principal.role !== "admin") return this.refuse(conn, "forbidden", "only an admin may broadcast to every client");
        this.publishText(LOCAL_ALL, text);
        this.toBus(BUS_BROADCAST, text).catch(this.busFailed);
        return;
      case "direct":
        return this.direct(conn, m.to_id!, text);
    }
  }

  /** Shutting down: this instance's clients leave their groups (presence and `leave` messages reach the other
   * instances before the bus closes), then their sockets are closed with 1001. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    const conns = [...this.clients.values()];
    const done: Promise<unknown>[] = [];
    for (const conn of conns) {
      conn.open = false;
      if (!conn.present) continue;
      done.push(this.opts.presence.remove(conn.group, conn.client).catch(this.busFailed));
      done.push(this.sendPresence(conn, "leave").catch(this.busFailed));
    }
    await Promise.all(done);
    for (const conn of conns) conn.ws.close(1001, "the server is shutting down");
    this.clients.clear();
    this.opts.bus?.leave(BUS_BROADCAST, this.onBroadcast);
  }

  private direct(conn: GroupConn, to: string, text: string): void {
    const local = this.clients.get(to);
    if (local) return void local.ws.sendText(text);
    const bus = this.opts.bus;
    if (!bus) return this.refuse(conn, "not_found", `no client ${to} is connected`);
    bus.publish(busClient(to), text).then(
      (receivers) => {
        if (receivers === 0) this.refuse(conn, "not_found", `no client ${to} is connected`);
      },
      (err) => {
        this.busFailed(err);
        this.refuse(conn, "internal", "could not reach the other hub instances");
      },
    );
  }

  private heartbeat(conn: GroupConn, m: GroupInbound): void {
    if (!this.opts.apiKeyLive(conn.apiKeyId)) return conn.ws.close(KEY_REVOKED.code, KEY_REVOKED.reason);
    this.opts.owners.refresh(conn.client, conn.account).catch(this.busFailed);
    conn.expiresAt = Date.now() + this.opts.presenceTtlMs;
    this.opts.presence.refresh(conn.group, conn.client, conn.expiresAt).catch(this.busFailed);
    if (!conn.present) {
      conn.present = true;
      this.sendPresence(conn, "join").catch(this.busFailed);
    }
    conn.ws.sendText(JSON.stringify(this.message(conn, { ...m, target: "echo" })));
  }

  private message(conn: GroupConn, m: Content): GroupMessage {
    return {
      version: "3",
      msg_type: m.msg_type,
      target: m.target,
      from_id: conn.client,
      ...(m.target === "direct" ? { to_id: m.to_id } : {}),
      group_id: conn.group,
      ...(m.cmd !== undefined ? { cmd: m.cmd } : {}),
      ...(m.msg !== undefined ? { msg: m.msg } : {}),
      ...(m.payload !== undefined ? { payload: m.payload } : {}),
      sent_at: new Date().toISOString(),
    };
  }

  private refuse(conn: GroupConn, code: ErrorCode, message: string): void {
    if (conn.open) conn.ws.sendText(this.errorText(conn, code, message));
  }

  private errorText(conn: GroupConn, code: ErrorCode, message: string, issues?: unknown[]): string {
    const payload = issues ? { code, issues } : { code };
    return JSON.stringify(this.message(conn, { msg_type: "msg", target: "echo", cmd: "ERROR", msg: message, payload }));
  }

  /** The newcomer's presence snapshot also tells it that it is reachable: it is sent once the other instances' messages
   * for it can arrive (`subscribed`). */
  private async announceJoin(conn: GroupConn, subscribed: Promise<unknown>): Promise<void> {
    try {
      await subscribed;
      if (!conn.open) return;
      await this.opts.presence.refresh(conn.group, conn.client, conn.expiresAt);
      // Closed meanwhile: its removal may have reached the store before this refresh did.
      if (!conn.open) {
        if (conn.replacedInto !== conn.group) await this.opts.presence.remove(conn.group, conn.client);
        return;
      }
      const clients = (await this.opts.presence.list(conn.group, Date.now())).map((e) => e.client_id);
      if (!conn.open) return;
      const snapshot = { msg_type: "presence", target: "direct", to_id: conn.client, payload: { event: "snapshot", clients } } as const;
      conn.ws.sendText(JSON.stringify(this.message(conn, snapshot)));
      this.sendPresence(conn, "join").catch(this.busFailed);
    } catch (err) {
      this.busFailed(err);
      if (conn.open) conn.ws.close(1011, "could not reach the other hub instances: connect again");
    }
  }

  private sendPresence(conn: GroupConn, event: "join" | "leave" | "expire"): Promise<unknown> {
    const text = JSON.stringify(this.message(conn, { msg_type: "presence", target: "group", payload: { event, client_id: conn.client } }));
    this.publishText(localGroup(conn.group), text);
    return this.toBus(busGroup(conn.group), text);
  }

  /** `older` loses its client id to a newer connection (in `group`). */
  private replace(older: GroupConn, group: string): void {
    older.replacedInto = group;
    older.ws.close(REPLACED_CLOSE.code, REPLACED_CLOSE.reason);
    // Bun calls close handlers later: take the id now, so the newer connection's registration stands.
    this.close(older);
  }

  private fromClientChannel(client: string, text: string): void {
    const local = this.clients.get(client);
    if (!local) return;
    if (!text.startsWith('{"claim"')) return void local.ws.sendText(text);
    const { claim } = JSON.parse(text) as Claim;
    // Two connections racing on two instances: the later one wins on both (ties by instance id).
    if (claim.since > local.since || (claim.since === local.since && claim.instance > this.instance)) this.replace(local, claim.group);
  }

  private joinGroup(group: string): Promise<void> {
    const n = this.groupMembers.get(group) ?? 0;
    this.groupMembers.set(group, n + 1);
    const bus = this.opts.bus;
    if (!bus) return Promise.resolve();
    let handler = this.groupHandlers.get(group);
    if (!handler) {
      handler = (text: string) => this.publishText(localGroup(group), text);
      this.groupHandlers.set(group, handler);
    }
    return bus.join(busGroup(group), handler);
  }

  private leaveGroup(group: string): void {
    const n = (this.groupMembers.get(group) ?? 1) - 1;
    if (n > 0) return void this.groupMembers.set(group, n);
    this.groupMembers.delete(group);
    const handler = this.groupHandlers.get(group);
    if (handler) this.opts.bus?.leave(busGroup(group), handler);
    this.groupHandlers.delete(group);
  }

  /** Members that sent no heartbeat within the TTL drop out of presence (their next heartbeat joins them again). */
  private sweep(): void {
    const now = Date.now();
    for (const conn of this.clients.values()) {
      if (!conn.present || conn.expiresAt > now) continue;
      conn.present = false;
      this.opts.presence.remove(conn.group, conn.client).catch(this.busFailed);
      this.sendPresence(conn, "expire").catch(this.busFailed);
    }
  }

  /** To the other instances (scaled out); the caller decides what a failure means. */
  private toBus(channel: string, text: string): Promise<unknown> {
    return this.opts.bus?.publish(channel, text) ?? Promise.resolve();
  }

  private readonly busFailed = (err: unknown): void => {
    this.opts.log.error({ err: (err as Error).message }, "group messaging: Redis failed");
  };
}
