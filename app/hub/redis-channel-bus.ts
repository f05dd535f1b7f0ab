import { RedisClient } from "bun";
import type { Logger } from "pino";
import type { ChannelBus } from "./channel-bus";

/** ChannelBus over Redis pub/sub: one subscriber connection whose channel set follows the joins, one connection for
 * publishing (and for the callers' own commands: `redis`). A message is prefixed with its instance's id and a newline,
 * so an instance skips its own without re-encoding the text. */
export class RedisChannelBus implements ChannelBus {
  private readonly instanceId = `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  private readonly handlers = new Map<string, Set<(text: string) => void>>();
  private readonly subscribed = new Map<string, Promise<void>>();

  private constructor(
    /** Commands (publish, presence sets). */
    readonly redis: RedisClient,
    private readonly sub: RedisClient,
    private readonly log: Logger,
  ) {}

  static async connect(url: string, log: Logger): Promise<RedisChannelBus> {
    const redis = new RedisClient(url, { connectionTimeout: 5000 });
    await redis.connect();
    const sub = await redis.duplicate();
    return new RedisChannelBus(redis, sub, log);
  }

  join(channel: string, handler: (text: string) => void): Promise<void> {
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      const done = this.sub.subscribe(channel, (message) => this.received(channel, message)).then(
        () => {},
        (err) => {
          this.log.error({ err: (err as Error).message, channel }, "could not subscribe to a Redis channel");
          // Forget the channel, so that the next join tries again rather than getting this failure back.
          if (this.subscribed.get(channel) === done) {
            this.subscribed.delete(channel);
            this.handlers.delete(channel);
          }
          throw err;
        },
      );
      this.subscribed.set(channel, done);
    }
    set.add(handler);
    return this.subscribed.get(channel)!;
  }

  leave(channel: string, handler: (text: string) => void): void {
    const set = this.handlers.get(channel);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(channel);
    this.subscribed.delete(channel);
    this.sub.unsubscribe(channel).catch(() => {});
  }

  async publish(channel: string, text: string): Promise<number> {
    const receivers = await this.redis.publish(channel, `${this.instanceId}\n${text}`);
    // Redis counts this instance's own subscription too.
    return this.handlers.has(channel) ? Math.max(0, receivers - 1) : receivers;
  }

  async stop(): Promise<void> {
    this.handlers.clear();
    this.subscribed.clear();
    this.sub.close();
    this.redis.close();
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
