import type { Logger } from "pino";
import type { Principal } from "../auth/principal";
import type { ChannelBus } from "../hub/channel-bus";
import { RequestError } from "../ws/request-error";
import type { Endpoint } from "../ws/endpoint";
import type { WsSocket } from "../ws/socket";
import { TopicInbound, type ErrorCode } from "../protocol";
import { classify, requirePublish, requireSubscribe } from "./topic-policy";

/** What subscribers receive in `data`: seed 003's `{"name","type","data"}`. */
export interface TopicData {
  name: string;
  type: string;
  data: unknown;
}

export type TopicSocket = Pick<WsSocket, "sendText" | "subscribe" | "unsubscribe">;

/** One `/wss` connection. */
export interface TopicConn {
  readonly principal: Principal;
  readonly ws: TopicSocket;
  readonly topics: Set<string>;
  open: boolean;
}

export interface TopicHubOptions {
  /** Other hub instances (hub role with Redis); null in one process. */
  bus: ChannelBus | null;
  maxSubscriptions: number;
  log: Logger;
}

const local = (topic: string) => `wss:${topic}`;
const busTopic = (topic: string) => `skynode:wss:topic:${topic}`;

/** Seed 003's topic publish/subscribe (docs/messaging.md). Deliveries to this instance's sockets go through Bun's
 * native topics (one serialization per publish); the bus carries client publishes and server_logs to the other
 * instances. Telemetry topics are fed on every instance from its own stream hub, and their latest value is kept for
 * new subscribers. */
export class TopicHub {
  private readonly subscribers = new Map<string, number>();
  private readonly busHandlers = new Map<string, (text: string) => void>();
  private readonly latest = new Map<string, TopicData>();
  private publishText: (topic: string, text: string) => void = () => {};
  private connections = 0;

  constructor(private readonly opts: TopicHubOptions) {}

  get connectionCount(): number {
    return this.connections;
  }

  bindServer(server: { publish(topic: string, data: string): number }): void {
    this.publishText = (topic, text) => void server.publish(topic, text);
  }

  open(principal: Principal, ws: TopicSocket): TopicConn {
    this.connections++;
    return { principal, ws, topics: new Set(), open: true };
  }

  close(conn: TopicConn): void {
    if (!conn.open) return;
    conn.open = false;
    this.connections--;
    for (const topic of conn.topics) this.dropSubscriber(topic);
    conn.topics.clear();
  }

  /** Someone on this instance reads the topic (the log bridge skips the work otherwise). */
  hasSubscribers(topic: string): boolean {
    return (this.subscribers.get(topic) ?? 0) > 0;
  }

  /** A publication of the server itself. `retain`: kept as the topic's latest value for new subscribers. `relay`:
   * also to the other instances (what only this instance knows, such as its own log lines). */
  publishFromServer(topic: string, data: TopicData, opts: { retain?: boolean; relay?: boolean } = {}): void {
    if (opts.retain) this.latest.set(topic, data);
    const relay = opts.relay && this.opts.bus;
    if (!this.hasSubscribers(topic) && !relay) return;
    const text = render(topic, data, "server");
    this.publishText(local(topic), text);
    if (relay) this.toBus(topic, text);
  }

  /** `/wss` over the shared frame pipeline (app/ws): validated messages only; errors in the primary API's shape. */
  readonly endpoint: Endpoint<TopicConn, TopicInbound> = {
    name: "/wss",
    schema: TopicInbound,
    open: (principal, ws) => this.open(principal, ws),
    handle: (conn, m) => this.handle(conn, m),
    close: (conn) => this.close(conn),
    error: (_conn, r) => JSON.stringify({ kind: "error", code: r.code, message: r.message, details: r.details, id: r.id }),
    idOf,
    label: (m) => m.action,
  };

  private handle(conn: TopicConn, m: TopicInbound): void | Promise<void> {
    const answer = () => conn.ws.sendText(JSON.stringify({ kind: "ack", action: m.action, topic: m.topic, id: m.id }));
    if (m.action === "unsubscribe") return void (this.unsubscribe(conn, m.topic), answer());
    if (m.action === "publish") return void (this.publish(conn, m.topic, m.data as TopicData), answer());
    // The ack says deliveries flow: it waits for the other instances' channel (scaled out).
    return this.subscribe(conn, m.topic).then(
      () => {
        if (!conn.open || !conn.topics.has(m.topic)) return;
        answer();
        const latest = this.latest.get(m.topic);
        if (latest) conn.ws.sendText(render(m.topic, latest, "server"));
      },
      () => this.refuse(conn, m.id, "internal", "could not reach the other hub instances: subscribe again"),
    );
  }

  /** Throws when refused; resolves once deliveries reach the connection. */
  private subscribe(conn: TopicConn, topic: string): Promise<void> {
    requireSubscribe(conn.principal, topic);
    if (conn.topics.has(topic)) return this.joined(topic);
    if (conn.topics.size >= this.opts.maxSubscriptions) {
      throw new RequestError("invalid", `a connection may hold at most ${this.opts.maxSubscriptions} topics: unsubscribe from one first`);
    }
    conn.topics.add(topic);
    conn.ws.subscribe(local(topic));
    this.subscribers.set(topic, (this.subscribers.get(topic) ?? 0) + 1);
    return this.joined(topic);
  }

  /** The other instances' channel of the topic, joined while this instance has subscribers. Telemetry is fed on every
   * instance from its own stream hub: it needs none. */
  private joined(topic: string): Promise<void> {
    const bus = this.opts.bus;
    if (!bus || classify(topic).kind === "telemetry") return Promise.resolve();
    let handler = this.busHandlers.get(topic);
    if (!handler) {
      handler = (text: string) => this.publishText(local(topic), text);
      this.busHandlers.set(topic, handler);
    }
    return bus.join(busTopic(topic), handler);
  }

  private unsubscribe(conn: TopicConn, topic: string): void {
    if (!conn.topics.delete(topic)) return;
    conn.ws.unsubscribe(local(topic));
    this.dropSubscriber(topic);
  }

  private dropSubscriber(topic: string): void {
    const n = (this.subscribers.get(topic) ?? 1) - 1;
    if (n > 0) return void this.subscribers.set(topic, n);
    this.subscribers.delete(topic);
    const handler = this.busHandlers.get(topic);
    if (handler) this.opts.bus?.leave(busTopic(topic), handler);
    this.busHandlers.delete(topic);
  }

  private publish(conn: TopicConn, topic: string, data: TopicData): void {
    requirePublish(conn.principal, topic);
    const text = render(topic, data, conn.principal.sub);
    this.publishText(local(topic), text);
    this.toBus(topic, text);
  }

  private toBus(topic: string, text: string): void {
    // Quietly: a failure logged here would come back as a server_logs line, whose publication fails again.
    this.opts.bus?.publish(busTopic(topic), text).catch(() => {});
  }

  private refuse(conn: TopicConn, id: string | undefined, code: ErrorCode, message: string, details?: object): void {
    if (conn.open) conn.ws.sendText(JSON.stringify({ kind: "error", code, message, details, id }));
  }
}

function render(topic: string, data: TopicData, from: string): string {
  return JSON.stringify({ kind: "message", topic, data, from, sent_at: new Date().toISOString() });
}

function idOf(raw: unknown): string | undefined {
  const id = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return typeof id === "string" && id.length > 0 && id.length <= 200 ? id : undefined;
}
