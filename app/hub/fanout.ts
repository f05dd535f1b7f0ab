import { RequestError, sendAck, type Conn } from "./connection";

/** What an event is about, for matching it against subscription filters. */
export interface EventKey {
  stream: string;
  telescope_uid: string;
  device_uid?: string;
  device_type?: string;
  observatory_uid?: string;
}

/** A filter with each dimension as a set of accepted values; null = any. */
export interface Filter {
  telescope_uid: ReadonlySet<string> | null;
  device_uid: ReadonlySet<string> | null;
  device_type: ReadonlySet<string> | null;
  observatory_uid: ReadonlySet<string> | null;
}

/** Subscribers with the same (endpoint, streams, filter, subscription_id) share one Bun topic, so one publish is
 * serialized once per distinct subscription and copied to the sockets natively. */
export interface Topic {
  readonly name: string;
  readonly subscriptionId: string;
  readonly streams: ReadonlySet<string> | null;
  readonly filter: Filter;
  refs: number;
}

export function toSet(value: string | string[] | undefined): ReadonlySet<string> | null {
  if (value === undefined) return null;
  return new Set(Array.isArray(value) ? value : [value]);
}

const setKey = (s: ReadonlySet<string> | null) => (s ? [...s].sort().join(",") : "*");

function matches(t: Topic, e: EventKey): boolean {
  const f = t.filter;
  return (
    (t.streams === null || t.streams.has(e.stream)) &&
    (f.telescope_uid === null || f.telescope_uid.has(e.telescope_uid)) &&
    (f.device_uid === null || (e.device_uid !== undefined && f.device_uid.has(e.device_uid))) &&
    (f.device_type === null || (e.device_type !== undefined && f.device_type.has(e.device_type))) &&
    (f.observatory_uid === null || (e.observatory_uid !== undefined && f.observatory_uid.has(e.observatory_uid)))
  );
}

export class Fanout {
  private readonly topics = new Map<string, Topic>();
  /** Topics by telescope uid, plus those that accept any telescope: a publish looks at the few that can match. */
  private readonly byTelescope = new Map<string, Set<Topic>>();
  private readonly anyTelescope = new Set<Topic>();

  constructor(
    private readonly endpoint: string,
    private readonly publishText: (topic: string, text: string) => void,
    /** Subscriptions one connection may hold on this endpoint. */
    private readonly maxPerConnection = Infinity,
  ) {}

  /** Throws `invalid` when the connection already holds as many subscriptions as it may (a resubscription under an
   * id it holds replaces that one and always passes). */
  checkQuota(conn: Conn, subscriptionId: string): void {
    if (conn.subscriptions.size >= this.maxPerConnection && !conn.subscriptions.has(subscriptionId)) {
      throw new RequestError("invalid", `a connection may hold at most ${this.maxPerConnection} subscriptions here: unsubscribe one first`, {
        max_subscriptions: this.maxPerConnection,
      });
    }
  }

  subscribe(conn: Conn, subscriptionId: string, streams: ReadonlySet<string> | null, filter: Filter): Topic {
    this.checkQuota(conn, subscriptionId);
    this.unsubscribe(conn, subscriptionId);
    const f = filter;
    const name = JSON.stringify([
      this.endpoint,
      subscriptionId,
      setKey(streams),
      setKey(f.telescope_uid),
      setKey(f.device_uid),
      setKey(f.device_type),
      setKey(f.observatory_uid),
    ]);
    let topic = this.topics.get(name);
    if (!topic) {
      topic = { name, subscriptionId, streams, filter, refs: 0 };
      this.topics.set(name, topic);
      if (filter.telescope_uid === null) this.anyTelescope.add(topic);
      else for (const uid of filter.telescope_uid) getOrCreate(this.byTelescope, uid).add(topic);
    }
    topic.refs++;
    conn.subscriptions.set(subscriptionId, topic);
    conn.ws.subscribe(name);
    return topic;
  }

  unsubscribe(conn: Conn, subscriptionId: string): boolean {
    const topic = conn.subscriptions.get(subscriptionId);
    if (!topic) return false;
    conn.subscriptions.delete(subscriptionId);
    if (conn.open) conn.ws.unsubscribe(topic.name);
    if (--topic.refs === 0) {
      this.topics.delete(topic.name);
      this.anyTelescope.delete(topic);
      for (const uid of topic.filter.telescope_uid ?? []) {
        const set = this.byTelescope.get(uid);
        set?.delete(topic);
        if (set?.size === 0) this.byTelescope.delete(uid);
      }
    }
    return true;
  }

  /** Answers an unsubscribe_* request: ack, or not_found when this connection holds no such subscription. */
  unsubscribeRequest(conn: Conn, msg: { id?: string; subscription_id: string }): void {
    if (!this.unsubscribe(conn, msg.subscription_id)) {
      throw new RequestError("not_found", `no subscription ${msg.subscription_id} on this connection`);
    }
    sendAck(conn, msg.id ?? msg.subscription_id);
  }

  dropConnection(conn: Conn): void {
    for (const id of [...conn.subscriptions.keys()]) this.unsubscribe(conn, id);
  }

  /** Delivers an event to every matching topic. `render` builds the frame for a subscription id; it is called once
   * per distinct subscription id, however many sockets share it. */
  publish(event: EventKey, render: (subscriptionId: string) => string): void {
    let rendered: Map<string, string> | undefined;
    const deliver = (topic: Topic) => {
      if (!matches(topic, event)) return;
      rendered ??= new Map();
      let text = rendered.get(topic.subscriptionId);
      if (text === undefined) rendered.set(topic.subscriptionId, (text = render(topic.subscriptionId)));
      this.publishText(topic.name, text);
    };
    for (const t of this.anyTelescope) deliver(t);
    const scoped = this.byTelescope.get(event.telescope_uid);
    if (scoped) for (const t of scoped) deliver(t);
  }

  /** Whether a subscription (by its topic) would receive this event: used to replay retained state. */
  static accepts(topic: Topic, event: EventKey): boolean {
    return matches(topic, event);
  }
}

function getOrCreate<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}

/** Renders `{"kind":K,"subscription_id":S,...body}` with the body serialized once and only the id spliced in. */
export function eventRenderer(kind: string, body: object): (subscriptionId: string) => string {
  const json = JSON.stringify(body);
  const head = `{"kind":${JSON.stringify(kind)},"subscription_id":`;
  const tail = json.length > 2 ? "," + json.slice(1) : "}";
  return (subscriptionId) => head + JSON.stringify(subscriptionId) + tail;
}
