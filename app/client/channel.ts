import type { ErrorCode } from "../protocol";

/** An `error` envelope (or `direct_error`) as a rejection: the protocol's code, message and details. */
export class SkynodeError extends Error {
  constructor(
    readonly code: ErrorCode | "disconnected" | "timeout",
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "SkynodeError";
  }
}

export type Frame = { kind: string; id?: string; [key: string]: unknown };

export interface ChannelOptions {
  url: string;
  WebSocket: typeof WebSocket;
  /** Reconnect after a drop (with backoff) instead of staying closed. */
  reconnect: boolean;
  onText(frame: Frame): void;
  onBinary(data: Uint8Array): void;
  /** The socket is (again) open: re-establish what the server forgot. */
  onOpen(reopened: boolean): void;
  /** The socket dropped: fail what cannot survive it. */
  onDrop(reason: string): void;
}

const BACKOFF_MS = [200, 500, 1000, 2000, 5000];

/** One endpoint's socket: JSON text out, parsed text and binary frames in, requests answered by `id`, and
 * reconnection with backoff. Browser-safe: only the WebSocket API. */
export class Channel {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private closed = false;
  private opened = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly answers = new Map<string, { resolve(f: Frame): void; reject(e: Error): void }>();
  private readonly openWaiters = new Set<() => void>();
  private nextId = 0;

  constructor(private readonly opts: ChannelOptions) {}

  /** Resolves once the first connection is open; rejects if it cannot be made. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = this.open();
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("close", (e) => reject(new SkynodeError("disconnected", `could not connect to ${redact(this.opts.url)} (${e.code} ${e.reason})`)), { once: true });
    });
  }

  get isOpen(): boolean {
    return this.ws?.readyState === 1;
  }

  send(frame: object): void {
    if (!this.isOpen) throw new SkynodeError("disconnected", "not connected");
    this.ws!.send(JSON.stringify(frame));
  }

  /** Sends `frame` with a fresh `id` and resolves with the `ack`/`pong` that echoes it; an `error` rejects. While
   * the socket is reconnecting the request waits for it (within the same timeout) instead of failing at once. */
  async request(frame: Record<string, unknown>, timeoutMs = 10_000): Promise<Frame> {
    const started = Date.now();
    if (!this.isOpen) await this.reopened(timeoutMs);
    return this.requestNow(frame, timeoutMs - (Date.now() - started));
  }

  private reopened(timeoutMs: number): Promise<void> {
    if (this.closed || !this.opts.reconnect) return Promise.reject(new SkynodeError("disconnected", "not connected"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.openWaiters.delete(done);
        reject(new SkynodeError("disconnected", `not connected (still reconnecting after ${timeoutMs} ms)`));
      }, timeoutMs);
      const done = () => (clearTimeout(timer), resolve());
      this.openWaiters.add(done);
    });
  }

  private requestNow(frame: Record<string, unknown>, timeoutMs: number): Promise<Frame> {
    const id = `c${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.answers.delete(id);
        reject(new SkynodeError("timeout", `no answer to ${String(frame.kind)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.answers.set(id, {
        resolve: (f) => (clearTimeout(timer), resolve(f)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      try {
        this.send({ ...frame, id });
      } catch (err) {
        this.answers.get(id)?.reject(err as Error);
        this.answers.delete(id);
      }
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.ws?.close(1000, "client closing");
  }

  private open(): WebSocket {
    const ws = new this.opts.WebSocket(this.opts.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      const reopened = this.opened;
      this.opened = true;
      this.opts.onOpen(reopened);
      for (const w of this.openWaiters) w();
      this.openWaiters.clear();
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return this.opts.onBinary(new Uint8Array(e.data as ArrayBuffer));
      const frame = JSON.parse(e.data) as Frame;
      const waiting = frame.id !== undefined && (frame.kind === "ack" || frame.kind === "pong" || frame.kind === "error") ? this.answers.get(frame.id) : undefined;
      if (waiting) {
        this.answers.delete(frame.id!);
        if (frame.kind === "error") waiting.reject(new SkynodeError(frame.code as ErrorCode, String(frame.message), frame.details as Record<string, unknown>));
        else waiting.resolve(frame);
        return;
      }
      this.opts.onText(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      const reason = `connection closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`;
      for (const a of this.answers.values()) a.reject(new SkynodeError("disconnected", reason));
      this.answers.clear();
      if (this.opened) this.opts.onDrop(reason);
      // Closed by us, refused at first contact, or the session ended (4003): stay closed.
      if (this.closed || !this.opened || !this.opts.reconnect || e.code === 1008 || e.code === 4003) return;
      const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)]!;
      this.retry = setTimeout(() => this.open(), delay * (0.75 + Math.random() / 2));
    };
    return ws;
  }
}

const redact = (url: string) => url.replace(/token=[^&]+/, "token=…");
