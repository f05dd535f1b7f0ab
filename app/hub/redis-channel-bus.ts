import type { RedisClient } from "bun";
import type { Logger } from "pino";
import type { ChannelBus, ChannelBusStatus } from "./channel-bus";
import { RedisLink } from "./redis-link";

/** ChannelBus over Redis pub/sub: one subscriber connection whose channel set follows the joins, one connection for
 * publishing (and for the callers' own commands: `redis`). A message is prefixed with its instance's id and a newline,
 * so an instance skips its own without re-encoding the text. While Redis is away, joins and publishes fail at once
 * (what is published meanwhile is lost, as for any instance that is not listening); the joined channels are
 * subscribed again when it is back. */
export class RedisChannelBus implements ChannelBus {
  private readonly instanceId = `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  private readonly handlers = new Map<string, Set<(text: string) => void>>();

  private constructor(
    private readonly link: RedisLink,
    private readonly log: Logger,
  ) {
    link.onMessage((channel, message) => this.received(channel, message));
  }

  static async connect(url: string, log: Logger): Promise<RedisChannelBus> {
    return new RedisChannelBus(await RedisLink.connect(url, "messaging", log), log);
  }

  /** Commands (publish, presence sets): one client for the bus's lifetime, reconnected in place. */
  get redis(): RedisClient {
    return this.link.redis;
  }

  get status(): ChannelBusStatus {
    return this.link.status;
  }

  join(channel: string, handler: (text: string) => void): Promise<void> {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return this.link.subscribe(channel).catch((err) => {
      this.log.error({ err: (err as Error).message, channel }, "could not subscribe to a Redis channel");
      throw err;
    });
  }

  leave(channel: string, handler: (text: string) => void): void {
    const set = this.handlers.get(channel);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(channel);
    this.link.unsubscribe(channel);
  }

  async publish(channel: string, text: string): Promise<number> {
    if (!this.link.up) throw this.link.unreachable("the other hub instances cannot be reached");
    const receivers = await this.link.redis.publish(channel, `${this.instanceId}\n${text}`);
    // Redis counts this instance's own subscription too.
    return this.handlers.has(channel) ? Math.max(0, receivers - 1) : receivers;
  }

  async stop(): Promise<void> {
    this.handlers.clear();
    this.link.close();
  }

  private received(channel: string, message: string): void {
    const nl = message.indexOf("\n");
    if (nl < 0 || message.slice(0, nl) === this.instanceId) return;
    const text = message.slice(nl + 1);
    for (const handler of this.handlers.get(channel) ?? []) {
      try {
        handler(text);
      } catch (err) {
        this.log.error({ err: (err as Error).message, channel }, "a Redis channel handler failed");
      }
    }
  }
}

/** The link behind a bus's command client, for what must be put back in a restarted Redis (presence). */
export function reconnections(redis: RedisClient): { onUp(listener: () => void): void } | undefined {
  return RedisLink.of(redis);
}
