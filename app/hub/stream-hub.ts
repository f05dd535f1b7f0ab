import type { LeaseState, StreamInbound, StreamName } from "../protocol";
import { requirePublisherFor, scopedFilter } from "./authority";
import { sendAck, type Conn } from "./connection";
import type { BackplaneEvent } from "./backplane";
import { eventRenderer, Fanout, type EventKey } from "./fanout";

/** The stream endpoint's messages past the lifecycle kinds (ping, pong, ack), which the hub answers itself. */
export type StreamMessage = Exclude<StreamInbound, { kind: "ping" | "pong" | "ack" }>;
type Msg<K extends StreamMessage["kind"]> = Extract<StreamMessage, { kind: K }>;
/** What a SkyNode publishes on the stream endpoint. */
export type Publish = Exclude<StreamMessage, { kind: "subscribe_stream" | "unsubscribe_stream" }>;
type Snapshot = Record<string, unknown>;

interface Retained {
  key: EventKey;
  render: (subscriptionId: string) => string;
}

const SNAPSHOT_KINDS = {
  publish_telescope_snapshot: ["telescope_snapshot", "event_telescope_snapshot"],
  publish_constraint_snapshot: ["constraint_snapshot", "event_constraint_snapshot"],
  publish_constraint_status_snapshot: ["constraint_status_snapshot", "event_constraint_status_snapshot"],
  publish_shutdown_interlock_snapshot: ["shutdown_interlock_snapshot", "event_shutdown_interlock_snapshot"],
} as const satisfies Record<string, readonly [StreamName, string]>;

/** `/v1/ws/stream`: subscriptions, SkyNode publishes fanned out as events, and the latest snapshot of everything
 * retained so that a new subscriber starts from the current state. */
export class StreamHub {
  private readonly fanout: Fanout;
  private readonly retained = new Map<string, Retained>();
  private readonly observatoryOf = new Map<string, string>();
  private readonly instruments = new Map<string, { instrument_uid: string; devices: Record<string, Snapshot> }>();
  private readonly publishListeners: ((msg: Publish) => void)[] = [];
  private readonly eventListeners: ((key: EventKey, kind: string, body: object) => void)[] = [];

  constructor(
    publishText: (topic: string, text: string) => void,
    /** Other hub instances (scale-out): every event is theirs to deliver too. */
    private readonly relay: ((event: BackplaneEvent) => void) | null = null,
    maxSubscriptions = Infinity,
  ) {
    this.fanout = new Fanout("stream", publishText, maxSubscriptions);
  }

  /** An event another hub instance published. */
  applyRemote(e: Extract<BackplaneEvent, { t: "stream" }>): void {
    if (e.kind === "event_telescope_snapshot") {
      const obs = (e.body as { snapshot?: { observatory_uid?: unknown } }).snapshot?.observatory_uid;
      if (typeof obs === "string") this.observatoryOf.set(e.key.telescope_uid, obs);
    }
    if (e.retain) this.emit(e.key, e.kind, e.body, false);
    else this.deliver(e.key, e.kind, e.body);
  }

  /** Every event this hub delivers, from its own SkyNodes or another instance's (the /wss telemetry topics). */
  onEvent(listener: (key: EventKey, kind: string, body: object) => void): void {
    this.eventListeners.push(listener);
  }

  /** Every accepted SkyNode publish, as received (the federation bridge forwards its telescope's upstream). */
  onPublish(listener: (msg: Publish) => void): void {
    this.publishListeners.push(listener);
  }

  handle(conn: Conn, msg: StreamMessage): void {
    if (msg.kind !== "subscribe_stream" && msg.kind !== "unsubscribe_stream") {
      requirePublisherFor(conn.principal, msg.telescope_uid);
      for (const listener of this.publishListeners) listener(msg);
    }
    switch (msg.kind) {
      case "subscribe_stream":
        return this.subscribe(conn, msg);
      case "unsubscribe_stream":
        return this.fanout.unsubscribeRequest(conn, msg);
      case "publish_device_snapshot":
        return this.publishDevice(conn, msg);
      case "publish_telescope_log": {
        const key = { stream: "telescope_log", telescope_uid: msg.telescope_uid, observatory_uid: this.observatoryOf.get(msg.telescope_uid) };
        const body = { telescope_uid: msg.telescope_uid, entry: msg.entry };
        this.deliver(key, "event_telescope_log", body);
        this.relay?.({ t: "stream", key, kind: "event_telescope_log", body, retain: false });
        if (msg.id) sendAck(conn, msg.id);
        return;
      }
      default: {
        const [stream, kind] = SNAPSHOT_KINDS[msg.kind];
        if (stream === "telescope_snapshot" && typeof msg.snapshot.observatory_uid === "string") {
          this.observatoryOf.set(msg.telescope_uid, msg.snapshot.observatory_uid);
        }
        this.emit({ stream, telescope_uid: msg.telescope_uid }, kind, { telescope_uid: msg.telescope_uid, snapshot: msg.snapshot });
        if (msg.id) sendAck(conn, msg.id);
      }
    }
  }

  close(conn: Conn): void {
    this.fanout.dropConnection(conn);
  }

  /** Lease state comes from the command side (derived from lease command results). */
  publishLease(telescopeUid: string, seq: number, lease: LeaseState): void {
    this.emit({ stream: "manual_control_lease", telescope_uid: telescopeUid }, "event_manual_control_lease", {
      telescope_uid: telescopeUid,
      seq,
      lease,
    });
  }

  private subscribe(conn: Conn, msg: Msg<"subscribe_stream">): void {
    const filter = scopedFilter(conn.principal, msg.filter);
    const topic = this.fanout.subscribe(conn, msg.subscription_id, msg.streams ? new Set(msg.streams) : null, filter);
    sendAck(conn, msg.id ?? msg.subscription_id);
    if (msg.options?.include_existing === false) return;
    // One cork: the retained state arrives as one burst, before any live event published after this subscribe.
    conn.ws.cork(() => {
      for (const r of this.retained.values()) {
        if (Fanout.accepts(topic, r.key)) conn.ws.sendText(r.render(msg.subscription_id));
      }
    });
  }

  private publishDevice(conn: Conn, msg: Msg<"publish_device_snapshot">): void {
    const { telescope_uid, device_uid, snapshot } = msg;
    const key: EventKey = { stream: "device_snapshot", telescope_uid, device_uid, device_type: snapshot.device_type };
    this.emit(key, "event_device_snapshot", { telescope_uid, device_uid, snapshot });
    if (snapshot.instrument_uid) {
      const instrumentKey = `${telescope_uid}\u0000${snapshot.instrument_uid}`;
      let inst = this.instruments.get(instrumentKey);
      if (!inst) this.instruments.set(instrumentKey, (inst = { instrument_uid: snapshot.instrument_uid, devices: {} }));
      inst.devices[device_uid] = snapshot;
      this.emit(
        { stream: "instrument_snapshot", telescope_uid, device_uid: snapshot.instrument_uid },
        "event_instrument_snapshot",
        { telescope_uid, instrument_uid: snapshot.instrument_uid, snapshot: inst },
      );
    }
    if (msg.id) sendAck(conn, msg.id);
  }

  private deliver(key: EventKey, kind: string, body: object): void {
    this.fanout.publish(key, eventRenderer(kind, body));
    for (const listener of this.eventListeners) listener(key, kind, body);
  }

  private emit(key: EventKey, kind: string, body: object, relay = true): void {
    key.observatory_uid ??= this.observatoryOf.get(key.telescope_uid);
    const render = eventRenderer(kind, body);
    this.retained.set(`${key.stream}\u0000${key.telescope_uid}\u0000${key.device_uid ?? ""}`, { key, render });
    this.fanout.publish(key, render);
    for (const listener of this.eventListeners) listener(key, kind, body);
    if (relay) this.relay?.({ t: "stream", key, kind, body, retain: true });
  }
}
