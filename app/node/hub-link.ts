import type { Logger } from "pino";
import type { DirectResponder } from "../direct/responder";
import { DirectSender, type FrameSink } from "../direct/sender";
import type { CommandRecord, DirectRequest, LeaseState } from "../protocol";

/** A frame that must reach the hub: sent when connected, resent after every reconnect until the hub acknowledges
 * (or refuses) its `id`. */
export interface QueuedFrame {
  id: string;
  endpoint: "stream" | "commands";
  frame: Record<string, unknown>;
}

/** The durable queue behind a link (the SkyNode's outbox, the federation's journal cursor and log queue). */
export interface LinkOutbox {
  /** What the hub has not acknowledged yet, in order. */
  pending(): QueuedFrame[];
  acknowledged(id: string): void;
  /** The hub answered `id` with an error other than `internal`: it will never accept that frame. */
  refused(id: string): void;
}

export type LinkState = "connecting" | "connected" | "disconnected";

export interface HubLinkOptions {
  /** Base URL of the hub (`ws://127.0.0.1:5001` for the appliance's own hub, the upstream URL when federating). */
  url: () => string;
  /** A `skynode` token for this telescope, asked for at every (re)connect. */
  token: () => string;
  telescopeUid: string;
  outbox: LinkOutbox;
  log: Logger;
  /** Reconnect backoff: doubles from 250 ms up to this, with jitter (default 30 s). */
  maxBackoffMs?: number;
  /** The link came up, went down or is trying again. */
  onState?: (state: LinkState, detail?: { code?: number; reason?: string; retry_ms?: number }) => void;
  onCommand: (record: CommandRecord) => void;
  onCancel: (commandId: string) => void;
  onLease: (lease: LeaseState) => void;
  /** Both sockets are open again: republish current state. */
  onConnected: () => void;
  /** The hub's retained lease state (if any) has been delivered: what the hub knows, the SkyNode now knows. */
  onLeaseSynced: () => void;
  /** Answers the direct requests the hub forwards. */
  direct: DirectResponder;
}

/** Chunk size towards a hub: a base64 chunk (4/3 larger) stays well inside a hub's default 1 MiB frame limit. */
export const LINK_CHUNK_BYTES = 256 * 1024;
/** Past this many bytes queued on the commands socket, direct chunks wait (the hub's credits normally bound it). */
const LINK_HIGH_WATER = 4 * 1024 * 1024;

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
const LEASE_SYNC = "lease-sync";
const LEASE_SUBSCRIPTION = "skynode-lease";

/** A `skynode` connection to a hub: exactly the path any external SkyNode takes (DESIGN.md §3), so the same code
 * attaches the appliance's SkyNode to its own hub and the appliance (app/federation) to an upstream one. Snapshots
 * are sent when connected (current state is republished on reconnect); queued frames (command results, and
 * upstream also lease events and logs) go through the outbox and are resent until the hub acknowledges them. */
export class HubLink {
  private stream: WebSocket | null = null;
  private commands: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly log: Logger;
  private direct: DirectSender | null = null;
  /** Frames the hub answered `internal` (its storage busy or full): resent with backoff until it takes them. */
  private readonly retries = new Map<string, { attempt: number; timer: ReturnType<typeof setTimeout> | undefined }>();

  constructor(private readonly opts: HubLinkOptions) {
    this.log = opts.log.child({ part: "hub-link" });
  }

  get connected(): boolean {
    return this.stream?.readyState === WebSocket.OPEN && this.commands?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.clearRetries();
    this.direct?.close();
    this.stream?.close(1000, "SkyNode stopping");
    this.commands?.close(1000, "SkyNode stopping");
  }

  /** A stream publish (`publish_*_snapshot`, `publish_telescope_log`); dropped while disconnected. */
  publish(kind: string, body: Record<string, unknown>): void {
    if (this.stream?.readyState !== WebSocket.OPEN) return;
    this.stream.send(JSON.stringify({ kind, telescope_uid: this.opts.telescopeUid, ...body }));
  }

  /** Sends a frame its outbox already holds (so it is resent after a reconnect until acknowledged). */
  send(q: QueuedFrame): void {
    const ws = q.endpoint === "stream" ? this.stream : this.commands;
    if (ws?.readyState !== WebSocket.OPEN || this.stream?.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ ...q.frame, id: q.id }));
  }

  /** Bytes queued on the link's sockets and not yet written (to pace what may be coalesced). */
  get bufferedAmount(): number {
    return (this.stream?.bufferedAmount ?? 0) + (this.commands?.bufferedAmount ?? 0);
  }

  private connect(): void {
    if (this.stopped) return;
    this.opts.onState?.("connecting");
    const token = encodeURIComponent(this.opts.token());
    const base = this.opts.url().replace(/\/$/, "");
    const stream = new WebSocket(`${base}/v1/ws/stream?token=${token}`);
    const commands = new WebSocket(`${base}/v1/ws/commands?token=${token}`);
    this.stream = stream;
    this.commands = commands;
    this.direct?.close();
    const direct: DirectSender = (this.direct = new DirectSender(linkSink(commands, () => direct.drain()), LINK_CHUNK_BYTES));
    let opened = 0;
    let failed = false;
    const onOpen = () => {
      if (++opened < 2) return;
      this.attempt = 0;
      this.log.info({ url: base }, "connected to hub");
      stream.send(
        JSON.stringify({
          kind: "subscribe_stream",
          subscription_id: LEASE_SUBSCRIPTION,
          streams: ["manual_control_lease"],
          filter: { telescope_uid: this.opts.telescopeUid },
        }),
      );
      // The retained lease follows the subscribe's ack in one burst; a pong after it marks its end.
      stream.send(JSON.stringify({ kind: "ping", id: LEASE_SYNC }));
      for (const q of this.opts.outbox.pending()) this.send(q);
      this.opts.onState?.("connected");
      this.opts.onConnected();
    };
    const onClose = (e: CloseEvent) => {
      if (failed) return;
      failed = true;
      direct.close();
      // A reconnect resends everything pending anyway; the attempts count again from the first.
      this.clearRetries();
      // Bring both down together: the SkyNode is either fully attached or not at all.
      stream.close();
      commands.close();
      if (this.stopped) return;
      if (e.code === 4001) {
        this.log.error({ reason: e.reason }, "another SkyNode connection took over this telescope; this one stands down");
        this.stopped = true;
        this.opts.onState?.("disconnected", { code: e.code, reason: e.reason });
        return;
      }
      // Exponential, capped, with jitter: many appliances losing one hub do not all come back in the same instant.
      const cap = this.opts.maxBackoffMs ?? MAX_BACKOFF_MS;
      const ceiling = Math.min(cap, FIRST_BACKOFF_MS * 2 ** Math.min(this.attempt++, 20));
      const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      this.log.warn({ code: e.code, reason: e.reason, retry_ms: delay }, "hub connection lost");
      this.opts.onState?.("disconnected", { code: e.code, reason: e.reason, retry_ms: delay });
      this.retry = setTimeout(() => this.connect(), delay);
    };
    for (const ws of [stream, commands]) {
      ws.onopen = onOpen;
      ws.onclose = onClose;
      ws.onerror = () => {};
    }
    stream.onmessage = (e) => this.onStream(e.data as string);
    commands.onmessage = (e) => this.onCommands(e.data as string, direct);
  }

  private onStream(text: string): void {
    const msg = JSON.parse(text) as { kind: string; id?: string; lease?: LeaseState; code?: string; message?: string };
    if (msg.kind === "event_manual_control_lease" && msg.lease) this.opts.onLease(msg.lease);
    else if (msg.kind === "pong" && msg.id === LEASE_SYNC) this.opts.onLeaseSynced();
    else if (msg.kind === "ack" && msg.id && msg.id !== LEASE_SUBSCRIPTION) this.acknowledged(msg.id);
    else if (msg.kind === "error") this.refused(msg);
  }

  private onCommands(text: string, direct: DirectSender): void {
    const msg = JSON.parse(text) as {
      kind: string;
      id?: string;
      command?: CommandRecord;
      command_id?: string;
      request_id?: string;
      chunks?: number;
      code?: string;
      message?: string;
    };
    switch (msg.kind) {
      case "direct_request":
        return void this.opts.direct.serve(direct, msg as unknown as DirectRequest).catch((err: unknown) => this.log.error({ err }, "direct request failed"));
      case "direct_credit":
        return direct.credit(msg.request_id!, msg.chunks!);
      case "direct_cancel":
        return direct.cancel(msg.request_id!);
      case "event_command":
        if (msg.command) this.opts.onCommand(msg.command);
        return;
      case "cancel_command":
        if (msg.command_id) this.opts.onCancel(msg.command_id);
        return;
      case "ack":
        if (msg.id) this.acknowledged(msg.id);
        return;
      case "error":
        return this.refused(msg);
    }
  }

  private acknowledged(id: string): void {
    const r = this.retries.get(id);
    if (r) {
      clearTimeout(r.timer);
      this.retries.delete(id);
    }
    this.opts.outbox.acknowledged(id);
  }

  /** A frame the hub refuses (unknown command, malformed data) will never be accepted: drop it, loudly. `internal`
   * is the hub failing, not the frame (its database locked or full: on the appliance it is the same SQLite file),
   * so that frame is kept and sent again with backoff: a command result is never lost to it. */
  private refused(msg: { id?: string; code?: string; message?: string }): void {
    if (msg.id && msg.code === "internal" && this.opts.outbox.pending().some((q) => q.id === msg.id)) return this.resendLater(msg.id, msg.message);
    this.log.error({ id: msg.id, code: msg.code, message: msg.message }, "hub refused a frame");
    if (msg.id) this.opts.outbox.refused(msg.id);
  }

  private resendLater(id: string, message: string | undefined): void {
    const r = this.retries.get(id) ?? { attempt: 0, timer: undefined };
    clearTimeout(r.timer);
    const cap = this.opts.maxBackoffMs ?? MAX_BACKOFF_MS;
    const ceiling = Math.min(cap, FIRST_BACKOFF_MS * 2 ** Math.min(r.attempt++, 20));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    if (r.attempt === 1) this.log.warn({ id, message, retry_ms: delay }, "the hub could not take a frame (internal error): sending it again with backoff");
    r.timer = setTimeout(() => {
      r.timer = undefined;
      const q = this.opts.outbox.pending().find((f) => f.id === id);
      if (q) this.send(q);
      else this.retries.delete(id);
    }, delay);
    this.retries.set(id, r);
  }

  private clearRetries(): void {
    for (const r of this.retries.values()) clearTimeout(r.timer);
    this.retries.clear();
  }
}

/** Direct responses over the client socket: it has no drain event, so a full buffer is polled until it empties. */
function linkSink(ws: WebSocket, drain: () => void): FrameSink {
  let polling = false;
  const result = () => {
    if (ws.readyState !== WebSocket.OPEN) return 0;
    if (ws.bufferedAmount <= LINK_HIGH_WATER) return 1;
    if (!polling) {
      polling = true;
      const poll = () => {
        if (ws.readyState !== WebSocket.OPEN) return void (polling = false);
        if (ws.bufferedAmount > LINK_HIGH_WATER / 2) return void setTimeout(poll, 2);
        polling = false;
        drain();
      };
      setTimeout(poll, 2);
    }
    return -1;
  };
  return {
    sendText(text) {
      if (ws.readyState !== WebSocket.OPEN) return 0;
      ws.send(text);
      return result();
    },
    sendBinary(bytes) {
      if (ws.readyState !== WebSocket.OPEN) return 0;
      ws.send(bytes);
      return result();
    },
    cork: (fn) => fn(),
  };
}
