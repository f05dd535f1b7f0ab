import type { Logger } from "pino";
import { mustArrive, type Backplane, type BackplaneEvent, type BackplaneStatus, type RpcReply, type RpcRequest } from "./backplane";
import { RedisLink } from "./redis-link";

const EVENTS = "skynode:events";
const RETAINED = "skynode:retained";
const route = (uid: string) => `skynode:route:${uid}`;
const inbox = (instance: string) => `skynode:rpc:${instance}`;

// Refresh or take a routing entry only while it is ours or free: an instance that lost its SkyNode to another must
// not take the telescope back on its next refresh.
const REFRESH = `local v = redis.call('GET', KEYS[1]) if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How many of its own numbered events an instance keeps for the others to ask for again after an outage. */
const HISTORY = 10_000;
/** Each instance says this often how far its numbering has got, so that a receiver notices the events it missed at
 * the end of an outage too (no later event would show the gap). */
const SYNC_MS = 1000;
/** A fill is answered in parts of about this size: far below Redis's output-buffer limit for a subscriber. */
const FILL_PART_BYTES = 256 * 1024;
/** Held events of an instance that has said nothing for this long (while this one is connected) are delivered with
 * the gap before them counted as lost: that instance is gone and cannot fill it. */
const PEER_SILENT_MS = 15_000;
const PEER_FORGET_MS = 10 * 60_000;

interface Numbered {
  n: number;
  event: BackplaneEvent;
}

/** On the events channel: an event (numbered when it must arrive), or a sender's latest number. */
type EventsWire = { from: string; event: BackplaneEvent; n?: number } | { from: string; sync: number };

/** On an instance's inbox: routed requests and their answers; a request for the numbered events after `after` (and
 * the current snapshots), answered in parts, the last one `done`. */
type InboxWire =
  | { t: "req"; id: number; from: string; req: RpcRequest }
  | { t: "rep"; id: number; rep: RpcReply }
  | { t: "fill"; from: string; after: number }
  | { t: "filled"; from: string; events: Numbered[]; state: BackplaneEvent[]; last: number; missing: number; done: boolean };

/** What this instance knows of another one's numbered events. */
interface Peer {
  /** The highest number delivered. */
  seen: number;
  /** Arrived after a gap: delivered, in order, once the gap is filled. */
  held: Map<number, BackplaneEvent>;
  filling: ReturnType<typeof setTimeout> | null;
  heard: number;
}

export interface RedisBackplaneOptions {
  url: string;
  routeTtlMs: number;
  rpcTimeoutMs: number;
  log: Logger;
}

/** Hub instances sharing one Redis: events on one channel that every instance subscribes to; a routing entry per
 * telescope (telescope → instance, with a TTL the owner refreshes, so a crashed instance's telescopes disappear);
 * request/answer between instances through per-instance inbox channels; latest snapshots in a hash.
 *
 * Redis going away degrades, never breaks: requests fail at once with a clear error; the events that must arrive are
 * numbered per instance and kept, so that when Redis is back each receiver asks for what it missed and gets each once;
 * the routing entries, the retained snapshots and the other instances' view of them are put back. */
export class RedisBackplane implements Backplane {
  readonly instanceId = `hub-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  private readonly claimed = new Set<string>();
  /** Claims and releases Redis has not taken yet (it was away): made when it is back. */
  private readonly unclaimed = new Set<string>();
  private readonly unreleased = new Set<string>();
  private readonly pending = new Map<number, { resolve: (r: RpcReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private eventHandler: (e: BackplaneEvent) => void = () => {};
  private callHandler: (r: RpcRequest) => RpcReply = () => ({ ok: false, code: "internal", message: "not ready" });
  private nextId = 0;
  private readonly refresher: ReturnType<typeof setInterval>;
  private readonly syncer: ReturnType<typeof setInterval>;
  /** This instance's numbered events, oldest first. */
  private readonly history: Numbered[] = [];
  private sent = 0;
  /** The latest retained event of each (stream, telescope, device) this instance relayed. */
  private readonly latest = new Map<string, { uid: string; event: Extract<BackplaneEvent, { t: "stream" }>; text: string }>();
  private readonly peers = new Map<string, Peer>();
  private lostEvents = 0;

  private constructor(
    private readonly link: RedisLink,
    private readonly opts: RedisBackplaneOptions,
  ) {
    this.refresher = setInterval(() => this.refresh(), Math.max(100, Math.floor(opts.routeTtlMs / 3)));
    this.syncer = setInterval(() => this.sync(), SYNC_MS);
    link.onMessage((channel, message) => this.received(message, channel));
    link.onUp(() => this.restore());
  }

  static async connect(opts: RedisBackplaneOptions): Promise<RedisBackplane> {
    const link = await RedisLink.connect(opts.url, "backplane", opts.log);
    const bp = new RedisBackplane(link, opts);
    try {
      await link.subscribe([EVENTS, inbox(bp.instanceId)]);
    } catch (err) {
      await bp.stop();
      throw err;
    }
    return bp;
  }

  get status(): BackplaneStatus {
    return { ...this.link.status, lost_events: this.lostEvents };
  }

  broadcast(event: BackplaneEvent): void {
    const n = mustArrive(event) ? ++this.sent : undefined;
    // One serialization: the same text goes on the channel and into the hash (whose readers take only `event`).
    const text = JSON.stringify(n === undefined ? { from: this.instanceId, event } : { from: this.instanceId, n, event });
    if (n !== undefined) {
      this.history.push({ n, event });
      if (this.history.length > HISTORY * 1.1) this.history.splice(0, this.history.length - HISTORY);
    }
    // Quietly while Redis is away (the link says so once): numbered events are asked for again, snapshots resent.
    if (this.link.up) this.link.redis.publish(EVENTS, text).catch(() => {});
    if (event.t === "stream" && event.retain) {
      const field = retainedField(event);
      this.latest.set(field, { uid: event.key.telescope_uid, event, text });
      this.retain(field, text);
    }
  }

  onEvent(handler: (event: BackplaneEvent) => void): void {
    this.eventHandler = handler;
  }

  async claim(uid: string): Promise<void> {
    this.claimed.add(uid);
    this.unreleased.delete(uid);
    this.unclaimed.add(uid);
    if (!this.link.up) throw this.link.unreachable(`the routing entry of ${uid} is taken once Redis is back`);
    await this.take(uid);
  }

  release(uid: string): void {
    this.claimed.delete(uid);
    this.unclaimed.delete(uid);
    this.unreleased.add(uid);
    if (this.link.up) this.untake(uid);
  }

  async owner(uid: string): Promise<string | null> {
    if (!this.link.up) throw this.link.unreachable("the instance holding the telescope cannot be found");
    return await this.link.within(this.opts.rpcTimeoutMs, this.link.redis.get(route(uid)), "GET");
  }

  call(to: string, req: RpcRequest): Promise<RpcReply> {
    if (!this.link.up) return Promise.reject(this.link.unreachable("the instance holding the telescope cannot be asked"));
    const id = ++this.nextId;
    return new Promise<RpcReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // The request may have arrived and been carried out: its result, if any, comes as an event.
        reject(new Error(`hub instance ${to} did not answer within ${this.opts.rpcTimeoutMs} ms (Redis ${this.link.up ? "connected" : "unreachable"}): the request may still have been carried out`));
      }, this.opts.rpcTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const wire: InboxWire = { t: "req", id, from: this.instanceId, req };
      this.link.redis.publish(inbox(to), JSON.stringify(wire)).then(
        (receivers) => {
          if (receivers > 0) return;
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new Error(`hub instance ${to} is gone`));
        },
        (err) => {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new Error(`Redis failed: ${(err as Error).message}`));
        },
      );
    });
  }

  onCall(handler: (req: RpcRequest) => RpcReply): void {
    this.callHandler = handler;
  }

  async retained(): Promise<BackplaneEvent[]> {
    const all = await this.link.within(this.opts.rpcTimeoutMs, this.link.redis.hgetall(RETAINED), "HGETALL");
    return Object.values(all ?? {}).map((text) => (JSON.parse(text) as { event: BackplaneEvent }).event);
  }

  async stop(): Promise<void> {
    clearInterval(this.refresher);
    clearInterval(this.syncer);
    for (const p of this.peers.values()) clearTimeout(p.filling ?? undefined);
    for (const uid of [...this.claimed]) this.release(uid);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("backplane stopped"));
    }
    this.pending.clear();
    // Let the releases go out before the connections close.
    if (this.link.up) await this.link.within(1000, this.link.redis.ping(), "PING").catch(() => {});
    this.link.close();
  }

  private publishEvents(wire: EventsWire): void {
    if (this.link.up) this.link.redis.publish(EVENTS, JSON.stringify(wire)).catch(() => {});
  }

  private retain(field: string, text: string): void {
    if (this.link.up) this.link.redis.hset(RETAINED, field, text).catch(() => {});
  }

  /** Sets the routing entry (the newest SkyNode connection wins) and tells the other instances. */
  private async take(uid: string): Promise<void> {
    await this.link.redis.set(route(uid), this.instanceId, "PX", this.opts.routeTtlMs);
    // Released (or claimed again) meanwhile: this claim's work is done or another one's.
    if (!this.claimed.has(uid)) return;
    this.unclaimed.delete(uid);
    this.publishEvents({ from: this.instanceId, event: { t: "claim", uid, instance: this.instanceId } });
  }

  private untake(uid: string): void {
    this.link.redis.send("EVAL", [RELEASE, "1", route(uid), this.instanceId]).then(
      () => {
        if (!this.claimed.has(uid)) this.unreleased.delete(uid);
      },
      () => {},
    );
  }

  private refresh(): void {
    if (!this.link.up) return;
    for (const uid of this.unclaimed) {
      this.take(uid).catch((err) => this.opts.log.error({ err: (err as Error).message, telescope_uid: uid }, "could not take the routing entry"));
    }
    for (const uid of this.unreleased) this.untake(uid);
    for (const uid of this.claimed) {
      if (this.unclaimed.has(uid)) continue;
      this.link.redis.send("EVAL", [REFRESH, "1", route(uid), this.instanceId, String(this.opts.routeTtlMs)]).catch((err) => {
        this.opts.log.error({ err: (err as Error).message, telescope_uid: uid }, "could not refresh the routing entry");
      });
    }
  }

  /** Redis is back (and this instance's channels subscribed again). A restarted Redis has lost everything: the
   * routing entries, the retained snapshots. The other instances missed this one's events, and it missed theirs. */
  private restore(): void {
    this.refresh();
    for (const [field, { uid, text }] of this.latest) if (this.claimed.has(uid)) this.retain(field, text);
    for (const e of this.currentState()) this.publishEvents({ from: this.instanceId, event: e });
    this.publishEvents({ from: this.instanceId, sync: this.sent });
    for (const [id, p] of this.peers) {
      clearTimeout(p.filling ?? undefined);
      p.filling = null;
      this.requestFill(id, p);
    }
  }

  /** The latest snapshots of the telescopes whose SkyNodes are here (lease events are numbered: never resent). */
  private currentState(): BackplaneEvent[] {
    const out: BackplaneEvent[] = [];
    for (const { uid, event } of this.latest.values()) if (this.claimed.has(uid) && !mustArrive(event)) out.push(event);
    return out;
  }

  private sync(): void {
    if (!this.link.up) return;
    this.publishEvents({ from: this.instanceId, sync: this.sent });
    const now = Date.now();
    const upSince = Date.parse(this.link.status.since);
    for (const [id, p] of this.peers) {
      const silent = now - Math.max(p.heard, upSince);
      if (p.held.size > 0 && silent > PEER_SILENT_MS) {
        clearTimeout(p.filling ?? undefined);
        p.filling = null;
        this.deliverHeld(id, p, true);
      } else if (p.held.size === 0 && !p.filling && now - p.heard > PEER_FORGET_MS) {
        this.peers.delete(id);
      }
    }
  }

  private peer(id: string, seen: number): Peer {
    let p = this.peers.get(id);
    if (!p) this.peers.set(id, (p = { seen, held: new Map(), filling: null, heard: Date.now() }));
    p.heard = Date.now();
    return p;
  }

  /** A numbered event of instance `from`: delivered in order, once. */
  private numbered(from: string, n: number, event: BackplaneEvent): void {
    // The first word from an instance sets where its numbering stands here: what it sent before is not this one's.
    const p = this.peer(from, n - 1);
    if (n <= p.seen) return;
    if (n === p.seen + 1 && !p.filling && p.held.size === 0) {
      p.seen = n;
      return this.eventHandler(event);
    }
    p.held.set(n, event);
    this.requestFill(from, p);
  }

  private requestFill(from: string, p: Peer): void {
    if (p.filling || !this.link.up) return;
    p.filling = setTimeout(() => {
      p.filling = null;
      // Not answered (it may be reconnecting itself): its next sync asks again, or the silence rule delivers.
      if (p.held.size > 0) this.requestFill(from, p);
    }, this.opts.rpcTimeoutMs);
    const wire: InboxWire = { t: "fill", from: this.instanceId, after: p.seen };
    this.link.redis.publish(inbox(from), JSON.stringify(wire)).catch(() => {});
  }

  /** Another instance asks for this one's numbered events after `after`, and the current snapshots. */
  private answerFill(to: string, after: number): void {
    const oldest = this.history[0]?.n ?? this.sent + 1;
    const missing = Math.max(0, Math.min(oldest, this.sent + 1) - (after + 1));
    const start = this.history.findIndex((e) => e.n > after);
    const events = start < 0 ? [] : this.history.slice(start);
    const parts: Numbered[][] = [];
    let part: Numbered[] = [];
    let bytes = 0;
    for (const e of events) {
      const size = JSON.stringify(e).length;
      if (part.length > 0 && bytes + size > FILL_PART_BYTES) {
        parts.push(part);
        part = [];
        bytes = 0;
      }
      part.push(e);
      bytes += size;
    }
    parts.push(part);
    const state = this.currentState();
    parts.forEach((p, i) => {
      const done = i === parts.length - 1;
      const wire: InboxWire = { t: "filled", from: this.instanceId, events: p, state: done ? state : [], last: this.sent, missing: i === 0 ? missing : 0, done };
      this.link.redis.publish(inbox(to), JSON.stringify(wire)).catch(() => {});
    });
  }

  private filled(w: Extract<InboxWire, { t: "filled" }>): void {
    const p = this.peer(w.from, w.last);
    if (w.missing > 0) this.lose(w.from, w.missing, "no longer kept by the sender");
    for (const { n, event } of w.events) {
      if (n <= p.seen) continue;
      p.seen = n;
      this.eventHandler(event);
    }
    if (!w.done) return;
    for (const e of w.state) this.eventHandler(e);
    p.seen = Math.max(p.seen, w.last);
    clearTimeout(p.filling ?? undefined);
    p.filling = null;
    this.deliverHeld(w.from, p, false);
  }

  /** Held events in order; with `force`, across gaps (counted as lost), else up to the first gap (then asked for). */
  private deliverHeld(from: string, p: Peer, force: boolean): void {
    for (const n of [...p.held.keys()].sort((x, y) => x - y)) {
      const event = p.held.get(n)!;
      if (n <= p.seen) {
        p.held.delete(n);
        continue;
      }
      if (n > p.seen + 1) {
        if (!force) return this.requestFill(from, p);
        this.lose(from, n - p.seen - 1, "the sender went silent");
      }
      p.held.delete(n);
      p.seen = n;
      this.eventHandler(event);
    }
  }

  private lose(from: string, count: number, why: string): void {
    this.lostEvents += count;
    this.opts.log.error({ from, count, total: this.lostEvents }, `events of another hub instance lost: ${why}`);
  }

  private received(message: string, channel: string): void {
    try {
      if (channel === EVENTS) {
        const wire = JSON.parse(message) as EventsWire;
        if (wire.from === this.instanceId) return;
        if ("sync" in wire) {
          const p = this.peer(wire.from, wire.sync);
          if (wire.sync > p.seen) this.requestFill(wire.from, p);
          return;
        }
        if (wire.n !== undefined) return this.numbered(wire.from, wire.n, wire.event);
        return this.eventHandler(wire.event);
      }
      const wire = JSON.parse(message) as InboxWire;
      switch (wire.t) {
        case "rep": {
          const p = this.pending.get(wire.id);
          if (!p) return;
          clearTimeout(p.timer);
          this.pending.delete(wire.id);
          return p.resolve(wire.rep);
        }
        case "fill":
          return this.answerFill(wire.from, wire.after);
        case "filled":
          return this.filled(wire);
        case "req": {
          let rep: RpcReply;
          try {
            rep = this.callHandler(wire.req);
          } catch (err) {
            rep = { ok: false, code: "internal", message: (err as Error).message };
          }
          const reply: InboxWire = { t: "rep", id: wire.id, rep };
          this.link.redis.publish(inbox(wire.from), JSON.stringify(reply)).catch(() => {});
        }
      }
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, channel }, "bad backplane message");
    }
  }
}

function retainedField(e: Extract<BackplaneEvent, { t: "stream" }>): string {
  return `${e.key.stream}\u0000${e.key.telescope_uid}\u0000${e.key.device_uid ?? ""}`;
}
