import { RedisClient } from "bun";
import type { Logger } from "pino";

/** What a hub instance says about its Redis (for /healthz and logs): `connected`, or `disconnected` since when and
 * why, while it reconnects. */
export interface RedisLinkStatus {
  state: "connected" | "disconnected";
  /** When it entered that state (ISO 8601). */
  since: string;
  last_error: string | null;
  /** How many times Redis was lost since the start. */
  outages: number;
}

// Bun's own reconnection is not used: it restores no SUBSCRIBE, re-adds listeners twice if one subscribes again on the
// same client, gives up for good after its retries (about 30 s), and with its offline queue a command waits for the
// whole outage. Without it: a closed connection says so at once (onclose), commands fail at once while Redis is away,
// and this link reconnects for as long as it takes.
const CLIENT_OPTIONS = { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 2000 } as const;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;
/** A Redis that keeps its sockets open but answers nothing (stopped, or a silent network) is noticed by PING. */
const PING_EVERY_MS = 1000;
const PING_TIMEOUT_MS = 3000;

const links = new WeakMap<RedisClient, RedisLink>();

/** One instance's two connections to Redis (commands; subscriptions), kept up across Redis restarts and network
 * faults: reconnected with backoff for as long as it takes, the channels subscribed again on the new connection, and
 * `onUp` told, so that its owner can put back what Redis lost (routing entries, retained state, presence). While
 * Redis is away every command fails at once: nothing waits for it. */
export class RedisLink {
  private sub: RedisClient;
  private readonly channels = new Map<string, Promise<void> | null>();
  private readonly upListeners: (() => void)[] = [];
  private state: RedisLinkStatus;
  private closed = false;
  private reconnecting = false;
  private pinger: ReturnType<typeof setInterval>;
  private readonly listener = (message: string, channel: string) => this.deliver(channel, message);
  private deliver: (channel: string, message: string) => void = () => {};

  private constructor(
    /** Commands: one client object for the link's lifetime (reconnected in place), so holders of it keep working. */
    readonly redis: RedisClient,
    sub: RedisClient,
    private readonly url: string,
    private readonly name: string,
    private readonly log: Logger,
  ) {
    this.sub = sub;
    this.state = { state: "connected", since: new Date().toISOString(), last_error: null, outages: 0 };
    this.watch(redis);
    this.watch(sub);
    this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
    this.pinger.unref?.();
  }

  /** The first connection must succeed: a hub that cannot reach its Redis at start refuses to start. */
  static async connect(url: string, name: string, log: Logger): Promise<RedisLink> {
    const redis = new RedisClient(url, CLIENT_OPTIONS);
    await redis.connect();
    const sub = new RedisClient(url, CLIENT_OPTIONS);
    try {
      await sub.connect();
    } catch (err) {
      redis.close();
      throw err;
    }
    const link = new RedisLink(redis, sub, url, name, log);
    links.set(redis, link);
    return link;
  }

  /** The link a command client belongs to (for a holder of only the client, such as the presence store). */
  static of(redis: RedisClient): RedisLink | undefined {
    return links.get(redis);
  }

  get up(): boolean {
    return this.state.state === "connected";
  }

  get status(): RedisLinkStatus {
    return { ...this.state };
  }

  /** Messages of every subscribed channel. */
  onMessage(handler: (channel: string, message: string) => void): void {
    this.deliver = handler;
  }

  /** Redis is reachable again and the channels are subscribed again: put back what it lost. */
  onUp(listener: () => void): void {
    this.upListeners.push(listener);
  }

  /** Wanted from now on (subscribed again after every reconnect until `unsubscribe`); resolves once subscribed on the
   * current connection, rejects at once while Redis is away. */
  subscribe(channels: string | string[]): Promise<void> {
    const list = typeof channels === "string" ? [channels] : channels;
    const missing = list.filter((c) => !this.channels.get(c));
    for (const c of list) if (!this.channels.has(c)) this.channels.set(c, null);
    if (!this.up) return Promise.reject(this.unreachable("the channel is subscribed once Redis is back"));
    if (missing.length > 0) {
      const sub = this.sub;
      const done = sub.subscribe(missing, this.listener).then(
        () => {},
        (err) => {
          // Forgotten (the channel stays wanted): the next subscribe, or the next reconnect, tries again.
          for (const c of missing) if (this.channels.get(c) === done) this.channels.set(c, null);
          throw err;
        },
      );
      for (const c of missing) this.channels.set(c, done);
    }
    return Promise.all(list.map((c) => this.channels.get(c))).then(() => {});
  }

  unsubscribe(channel: string): void {
    if (!this.channels.delete(channel)) return;
    if (this.up) this.sub.unsubscribe(channel).catch(() => {});
  }

  /** An error that says Redis is away (what callers answer their users with). */
  unreachable(consequence: string): Error {
    return new Error(`Redis is unreachable (${this.name}: ${this.state.last_error ?? "connection lost"}), reconnecting: ${consequence}`);
  }

  /** Bounds a command's wait: a Redis that accepted the command but answers nothing must not hold the caller. */
  async within<T>(ms: number, command: Promise<T>, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer ${what} within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([command, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pinger);
    this.sub.close();
    this.redis.close();
  }

  private watch(client: RedisClient): void {
    // While down, closes come from this link's own closing and failed attempts: the outage is known already.
    client.onclose = (err) => {
      if (this.up && (client === this.redis || client === this.sub)) this.lost(err?.message ?? "connection closed");
    };
  }

  private ping(): void {
    if (!this.up || this.closed) return;
    const sub = this.sub;
    Promise.all([this.within(PING_TIMEOUT_MS, this.redis.ping(), "PING"), this.within(PING_TIMEOUT_MS, sub.ping(), "PING")]).catch((err) => {
      if (sub === this.sub) this.lost((err as Error).message);
    });
  }

  private lost(reason: string): void {
    if (this.closed) return;
    if (this.up) {
      this.state = { state: "disconnected", since: new Date().toISOString(), last_error: reason, outages: this.state.outages + 1 };
      this.log.warn({ redis: this.url, link: this.name, err: reason }, "Redis unreachable: reconnecting");
    } else {
      this.state.last_error = reason;
    }
    for (const c of this.channels.keys()) this.channels.set(c, null);
    // Both connections go: a half-working pair (commands without subscriptions) would look up but hear nothing.
    this.redis.close();
    this.sub.close();
    void this.reconnect().catch((err) => this.log.error({ err: (err as Error).message, link: this.name }, "Redis reconnection stopped"));
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (let delay = FIRST_RETRY_MS; !this.closed; delay = Math.min(MAX_RETRY_MS, delay * 2)) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.closed) return;
        const sub = new RedisClient(this.url, CLIENT_OPTIONS);
        try {
          await this.redis.connect();
          await sub.connect();
          // A fresh subscriber client: subscribing again on the old one would deliver each message twice.
          const wanted = [...this.channels.keys()];
          if (wanted.length > 0) await this.within(PING_TIMEOUT_MS, sub.subscribe(wanted, this.listener), "SUBSCRIBE");
          if (this.closed) {
            sub.close();
            this.redis.close();
            return;
          }
          this.sub = sub;
          this.watch(sub);
          for (const c of wanted) if (this.channels.has(c)) this.channels.set(c, Promise.resolve());
          // Channels dropped meanwhile are not wanted any more.
          const stale = wanted.filter((c) => !this.channels.has(c));
          if (stale.length > 0) sub.unsubscribe(stale).catch(() => {});
          this.state = { state: "connected", since: new Date().toISOString(), last_error: this.state.last_error, outages: this.state.outages };
          this.log.info({ redis: this.url, link: this.name, channels: wanted.length }, "Redis reachable again: channels subscribed again");
          for (const listener of this.upListeners) {
            try {
              listener();
            } catch (err) {
              this.log.error({ err: (err as Error).message, link: this.name }, "restoring state in Redis failed");
            }
          }
          return;
        } catch (err) {
          sub.close();
          this.redis.close();
          this.state.last_error = (err as Error).message;
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }
}
