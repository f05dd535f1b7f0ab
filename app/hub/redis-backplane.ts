import { RedisClient } from "bun";
import type { Logger } from "pino";
import type { Backplane, BackplaneEvent, RpcReply, RpcRequest } from "./backplane";

const EVENTS = "skynode:events";
const RETAINED = "skynode:retained";
const route = (uid: string) => `skynode:route:${uid}`;
const inbox = (instance: string) => `skynode:rpc:${instance}`;

// Refresh or take a routing entry only while it is ours or free: an instance that lost its SkyNode to another must
// not take the telescope back on its next refresh.
const REFRESH = `local v = redis.call('GET', KEYS[1]) if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Wire = { t: "req"; id: number; from: string; req: RpcRequest } | { t: "rep"; id: number; rep: RpcReply };

export interface RedisBackplaneOptions {
  url: string;
  routeTtlMs: number;
  rpcTimeoutMs: number;
  log: Logger;
}

/** Hub instances sharing one Redis: events on one channel that every instance subscribes to; a routing entry per
 * telescope (telescope → instance, with a TTL the owner refreshes, so a crashed instance's telescopes disappear);
 * request/answer between instances through per-instance inbox channels; latest snapshots in a hash. */
export class RedisBackplane implements Backplane {
  readonly instanceId = `hub-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  private readonly claimed = new Set<string>();
  private readonly pending = new Map<number, { resolve: (r: RpcReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private eventHandler: (e: BackplaneEvent) => void = () => {};
  private callHandler: (r: RpcRequest) => RpcReply = () => ({ ok: false, code: "internal", message: "not ready" });
  private nextId = 0;
  private refresher: ReturnType<typeof setInterval> | undefined;

  private constructor(
    private readonly cmd: RedisClient,
    private readonly sub: RedisClient,
    private readonly opts: RedisBackplaneOptions,
  ) {}

  static async connect(opts: RedisBackplaneOptions): Promise<RedisBackplane> {
    const cmd = new RedisClient(opts.url, { connectionTimeout: 5000 });
    await cmd.connect();
    // A subscribed connection can run no other command: a second one for publishing, routing and the hash.
    const sub = await cmd.duplicate();
    const bp = new RedisBackplane(cmd, sub, opts);
    await sub.subscribe([EVENTS, inbox(bp.instanceId)], (message, channel) => bp.received(message, channel));
    bp.refresher = setInterval(() => bp.refresh(), Math.max(100, Math.floor(opts.routeTtlMs / 3)));
    cmd.onclose = (err) => opts.log.error({ err: err?.message }, "Redis backplane connection closed");
    return bp;
  }

  broadcast(event: BackplaneEvent): void {
    const text = JSON.stringify({ from: this.instanceId, event });
    this.cmd.publish(EVENTS, text).catch((err) => this.opts.log.error({ err: (err as Error).message }, "backplane publish failed"));
    if (event.t === "stream" && event.retain) {
      this.cmd.hset(RETAINED, retainedField(event), text).catch(() => {});
    }
  }

  onEvent(handler: (event: BackplaneEvent) => void): void {
    this.eventHandler = handler;
  }

  async claim(uid: string): Promise<void> {
    this.claimed.add(uid);
    await this.cmd.set(route(uid), this.instanceId, "PX", this.opts.routeTtlMs);
    this.broadcast({ t: "claim", uid, instance: this.instanceId });
  }

  release(uid: string): void {
    this.claimed.delete(uid);
    this.cmd.send("EVAL", [RELEASE, "1", route(uid), this.instanceId]).catch(() => {});
  }

  async owner(uid: string): Promise<string | null> {
    return await this.cmd.get(route(uid));
  }

  call(to: string, req: RpcRequest): Promise<RpcReply> {
    const id = ++this.nextId;
    return new Promise<RpcReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`hub instance ${to} did not answer within ${this.opts.rpcTimeoutMs} ms`));
      }, this.opts.rpcTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const wire: Wire = { t: "req", id, from: this.instanceId, req };
      this.cmd.publish(inbox(to), JSON.stringify(wire)).then(
        (receivers) => {
          if (receivers > 0) return;
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new Error(`hub instance ${to} is gone`));
        },
        (err) => {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(err as Error);
        },
      );
    });
  }

  onCall(handler: (req: RpcRequest) => RpcReply): void {
    this.callHandler = handler;
  }

  async retained(): Promise<BackplaneEvent[]> {
    const all = await this.cmd.hgetall(RETAINED);
    return Object.values(all ?? {}).map((text) => (JSON.parse(text) as { event: BackplaneEvent }).event);
  }

  async stop(): Promise<void> {
    clearInterval(this.refresher);
    for (const uid of this.claimed) this.release(uid);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("backplane stopped"));
    }
    this.pending.clear();
    // Let the releases go out before the connections close.
    await this.cmd.ping().catch(() => {});
    this.sub.close();
    this.cmd.close();
  }

  private refresh(): void {
    for (const uid of this.claimed) {
      this.cmd.send("EVAL", [REFRESH, "1", route(uid), this.instanceId, String(this.opts.routeTtlMs)]).catch((err) => {
        this.opts.log.error({ err: (err as Error).message, telescope_uid: uid }, "could not refresh the routing entry");
      });
    }
  }

  private received(message: string, channel: string): void {
    try {
      if (channel === EVENTS) {
        const { from, event } = JSON.parse(message) as { from: string; event: BackplaneEvent };
        if (from !== this.instanceId) this.eventHandler(event);
        return;
      }
      const wire = JSON.parse(message) as Wire;
      if (wire.t === "rep") {
        const p = this.pending.get(wire.id);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(wire.id);
        return p.resolve(wire.rep);
      }
      let rep: RpcReply;
      try {
        rep = this.callHandler(wire.req);
      } catch (err) {
        rep = { ok: false, code: "internal", message: (err as Error).message };
      }
      const reply: Wire = { t: "rep", id: wire.id, rep };
      void this.cmd.publish(inbox(wire.from), JSON.stringify(reply)).catch(() => {});
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, channel }, "bad backplane message");
    }
  }
}

function retainedField(e: Extract<BackplaneEvent, { t: "stream" }>): string {
  return `${e.key.stream}\u0000${e.key.telescope_uid}\u0000${e.key.device_uid ?? ""}`;
}
