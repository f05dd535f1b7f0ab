import type { Command, CommandResult, StreamFilter, StreamName } from "../protocol";
import { Channel, SkynodeError, type Frame } from "./channel";
import { DirectReceiver, type DirectProgress, type DirectResult } from "./direct-receiver";

export interface SkynodeClientOptions {
  /** The server: `http(s)://` or `ws(s)://host:port`. Default: the page's own origin (in a browser). */
  url?: string;
  /** An access token (sent as `?token=`); without one a browser's session cookie authenticates. */
  token?: string;
  /** Reconnect after a drop and restore subscriptions (default true). */
  reconnect?: boolean;
  /** A WebSocket implementation (default: the global one). */
  WebSocket?: typeof WebSocket;
}

export interface SubscribeOptions {
  streams?: StreamName[];
  filter?: { [K in keyof StreamFilter]?: string | string[] };
  /** Send the latest retained snapshot of everything matched first (default true, and after every reconnect). */
  includeExisting?: boolean;
}

export interface Subscription {
  readonly id: string;
  close(): Promise<void>;
}

export interface CommandOptions {
  commandId?: string;
  /** How long to wait for the result (default 10 min: slews and exposures take time). */
  timeoutMs?: number;
}

export interface DirectOptions {
  /** `binary` (DESIGN.md §3; default) or the seed's `base64` JSON chunks. */
  encoding?: "binary" | "base64";
  onProgress?: (p: DirectProgress) => void;
}

export type ConnectionState = "open" | "reconnecting";

interface StreamSub {
  id: string;
  opts: SubscribeOptions;
  onEvent: (event: Frame) => void;
}

/** A typed client for both endpoints of a skynode server (the web UI, tests and users' scripts use it):
 * stream subscriptions that survive reconnects, commands whose promise resolves with their result, and direct
 * requests reassembled in either encoding with `total_size` checked. Browser-safe. */
export class SkynodeClient {
  private readonly stream: Channel;
  private readonly commands: Channel;
  private readonly subs = new Map<string, StreamSub>();
  private readonly pending = new Map<string, { resolve(r: CommandResult): void; reject(e: Error): void }>();
  /** Per telescope: the results subscription is open, and the last sequence number seen (replayed from there). */
  private readonly results = new Map<string, { seq: number; ready: Promise<void> }>();
  private readonly direct = new DirectReceiver();
  private readonly listeners = new Set<(s: ConnectionState) => void>();
  /** The sockets not (yet) back after a drop, with their subscriptions restored. */
  private readonly down = new Set<"stream" | "commands">();
  private next = 0;

  private constructor(opts: SkynodeClientOptions) {
    const base = wsBase(opts.url);
    const query = opts.token ? `?token=${encodeURIComponent(opts.token)}` : "";
    const WS = opts.WebSocket ?? globalThis.WebSocket;
    const reconnect = opts.reconnect ?? true;
    this.stream = new Channel({
      url: `${base}/v1/ws/stream${query}`,
      WebSocket: WS,
      reconnect,
      onText: (f) => this.subs.get(String(f.subscription_id))?.onEvent(f),
      onBinary: () => {},
      onOpen: (again) => again && this.restoreStreams(),
      onDrop: () => this.dropped(),
    });
    this.commands = new Channel({
      url: `${base}/v1/ws/commands${query}`,
      WebSocket: WS,
      reconnect,
      onText: (f) => this.direct.text(f) || this.onCommandFrame(f),
      onBinary: (data) => this.direct.binary(data),
      onOpen: (again) => again && this.restoreResults(),
      onDrop: (reason) => {
        this.direct.dropAll(reason);
        this.dropped();
      },
    });
  }

  static async connect(opts: SkynodeClientOptions = {}): Promise<SkynodeClient> {
    const client = new SkynodeClient(opts);
    try {
      await Promise.all([client.stream.connect(), client.commands.connect()]);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Called with "reconnecting" when a socket drops and "open" once subscriptions are restored. */
  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async subscribe(opts: SubscribeOptions, onEvent: (event: Frame) => void): Promise<Subscription> {
    const sub: StreamSub = { id: `s${++this.next}`, opts, onEvent };
    this.subs.set(sub.id, sub);
    try {
      await this.stream.request(subscribeFrame(sub));
    } catch (err) {
      this.subs.delete(sub.id);
      throw err;
    }
    return {
      id: sub.id,
      close: async () => {
        this.subs.delete(sub.id);
        if (this.stream.isOpen) await this.stream.request({ kind: "unsubscribe_stream", subscription_id: sub.id });
      },
    };
  }

  /** Publishes `command` at a telescope and resolves with its result (`ok`, `error` or `canceled`); a refusal by
   * the hub (no lease, bad command) rejects with its error code. */
  async command(telescopeUid: string, command: Command, opts: CommandOptions = {}): Promise<CommandResult> {
    await this.resultsFor(telescopeUid);
    const commandId = opts.commandId ?? `cmd-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const result = new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(commandId);
        reject(new SkynodeError("timeout", `no result for ${command.command_type} (${commandId}) within ${opts.timeoutMs ?? 600_000} ms`));
      }, opts.timeoutMs ?? 600_000);
      this.pending.set(commandId, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
    try {
      await this.commands.request({ kind: "publish_command", telescope_uid: telescopeUid, command_id: commandId, command });
    } catch (err) {
      this.pending.get(commandId)?.reject(err as Error);
      this.pending.delete(commandId);
    }
    return result;
  }

  async cancel(commandId: string): Promise<void> {
    await this.commands.request({ kind: "cancel_command", command_id: commandId });
  }

  /** A direct request (seed 001): resolves with the whole payload, or rejects with the `direct_error`. */
  request(telescopeUid: string, requestType: string, payload: Record<string, unknown> = {}, opts: DirectOptions = {}): Promise<DirectResult> {
    const id = `d${++this.next}`;
    const done = this.direct.expect(id, opts.onProgress);
    const accept = (opts.encoding ?? "binary") === "binary" ? { accept: ["binary"] } : {};
    try {
      this.commands.send({ kind: "direct_request", request_id: id, telescope_uid: telescopeUid, request_type: requestType, payload: { ...payload, ...accept } });
    } catch (err) {
      this.direct.fail(id, err as Error);
    }
    return done;
  }

  close(): void {
    this.stream.close();
    this.commands.close();
  }

  private onCommandFrame(f: Frame): boolean {
    if (f.kind !== "event_command_result") return false;
    const uid = String(f.telescope_uid);
    const state = this.results.get(uid);
    if (state && typeof f.seq === "number") state.seq = Math.max(state.seq, f.seq);
    const result = f.result as CommandResult;
    const waiting = this.pending.get(result.command_id);
    if (waiting) {
      this.pending.delete(result.command_id);
      waiting.resolve(result);
    }
    return true;
  }

  /** Results come through a per-telescope subscription, made once before the first command. */
  private resultsFor(uid: string): Promise<void> {
    let state = this.results.get(uid);
    if (!state) {
      const ready = this.commands
        .request({ kind: "subscribe_commands", subscription_id: `results:${uid}`, streams: ["command_result"], filter: { telescope_uid: uid } })
        .then(() => {});
      state = { seq: 0, ready };
      this.results.set(uid, state);
      ready.catch(() => this.results.delete(uid));
    }
    return state.ready;
  }

  private restoreStreams(): void {
    Promise.all([...this.subs.values()].map((s) => this.stream.request(subscribeFrame(s)))).then(
      () => this.restored("stream"),
      () => {},
    );
  }

  /** After a reconnect, the results missed while away are replayed from the last sequence number seen. */
  private restoreResults(): void {
    Promise.all(
      [...this.results].map(([uid, s]) =>
        this.commands.request({
          kind: "subscribe_commands",
          subscription_id: `results:${uid}`,
          streams: ["command_result"],
          filter: { telescope_uid: uid },
          since_seq: s.seq,
        }),
      ),
    ).then(
      () => this.restored("commands"),
      () => {},
    );
  }

  /** A socket dropped: the client is reconnecting until both are back with what they had restored. */
  private dropped(): void {
    const wasUp = this.down.size === 0;
    this.down.add("stream").add("commands");
    for (const [name, ch] of [["stream", this.stream], ["commands", this.commands]] as const) if (ch.isOpen) this.down.delete(name);
    if (wasUp) this.emit("reconnecting");
  }

  private restored(which: "stream" | "commands"): void {
    this.down.delete(which);
    if (this.down.size === 0) this.emit("open");
  }

  private emit(state: ConnectionState): void {
    for (const l of this.listeners) l(state);
  }
}

function subscribeFrame(s: StreamSub) {
  return {
    kind: "subscribe_stream",
    subscription_id: s.id,
    streams: s.opts.streams,
    filter: s.opts.filter,
    options: { include_existing: s.opts.includeExisting ?? true },
  };
}

function wsBase(url: string | undefined): string {
  const base = url ?? (globalThis as { location?: { origin: string } }).location?.origin;
  if (!base) throw new Error("SkynodeClient needs a url outside a browser");
  return base.replace(/^http/, "ws").replace(/\/$/, "");
}
