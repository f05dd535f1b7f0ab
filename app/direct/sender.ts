import type { ErrorCode } from "../protocol";
import type { DirectBody } from "./body";
import { DirectFailure } from "./failure";

/** Where a sender writes: one WebSocket, with Bun's send results (> 0 sent, -1 queued past the socket's buffer:
 * wait for `drain`, 0 dropped: the socket is going away). */
export interface FrameSink {
  sendText(text: string): number;
  sendBinary(bytes: Uint8Array): number;
  /** Writes everything `fn` sends as one batch, so that a chunk's header and its binary frame stay adjacent. */
  cork(fn: () => void): void;
}

export interface StreamOptions {
  /** Binary chunks (a text header, then the bytes as one binary frame) instead of the seed's `data_b64` JSON. */
  binary: boolean;
  /** Chunks that may be sent before the receiver grants more with `credit` (a hub relaying this stream); absent:
   * only the socket's own backpressure paces it. */
  credit?: number;
}

interface Pending {
  view: Uint8Array;
  scratch: Uint8Array | null;
}

interface Stream {
  readonly id: string;
  readonly idJson: string;
  readonly body: DirectBody;
  readonly binary: boolean;
  credit: number;
  nextRead: number;
  sent: number;
  seq: number;
  reading: boolean;
  readonly ready: Pending[];
  readonly free: Uint8Array[];
  done: boolean;
}

/** Chunks read ahead per stream: one being sent while the next is read keeps the socket busy, and bounds what a
 * stream holds to two chunk buffers whatever the reader's speed. */
const READ_AHEAD = 2;

/** Chunk buffers handed back by finished streams, for the next ones: fresh ones per request would leave megabytes
 * of garbage behind every transfer until the collector ran. */
const POOL_MAX = 16;
const pools = new Map<number, Uint8Array[]>();
const takeBuffer = (size: number) => pools.get(size)?.pop() ?? new Uint8Array(size);
function giveBuffer(buf: Uint8Array): void {
  let pool = pools.get(buf.byteLength);
  if (!pool) pools.set(buf.byteLength, (pool = []));
  if (pool.length < POOL_MAX) pool.push(buf);
}

/** Streams direct responses onto one socket (DESIGN.md §3): every request on the socket in turn, a chunk at a
 * time, so that concurrent requests interleave; nothing more is sent while the socket reports backpressure, so
 * what one socket buffers stays within a few chunks. Payload bytes go out as views of the body's buffers: never
 * copied per chunk, base64-encoded only in the seed's default encoding. */
export class DirectSender {
  private readonly streams = new Map<string, Stream>();
  private readonly reserved = new Set<string>();
  private blocked = false;
  private closed = false;
  private pumping = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly chunkBytes: number,
  ) {}

  /** Requests open on this socket (being prepared or streaming). */
  get active(): number {
    return this.streams.size + this.reserved.size;
  }

  /** Claims `id` while its body is being prepared; false when a request with that id is already open. */
  reserve(id: string): boolean {
    if (this.closed || this.streams.has(id) || this.reserved.has(id)) return false;
    this.reserved.add(id);
    return true;
  }

  /** Streams `body` as the answer to `id`, which `reserve` claimed (a request cancelled meanwhile is dropped). */
  start(id: string, body: DirectBody, opts: StreamOptions): void {
    if (!this.reserved.delete(id) || this.closed) return body.close();
    const idJson = JSON.stringify(id);
    const start =
      `{"kind":"direct_response_start","request_id":${idJson},"content_type":${JSON.stringify(body.content_type)},` +
      `"total_size":${body.total_size},"metadata":${JSON.stringify(body.metadata)}${opts.binary ? ',"encoding":"binary"' : ""}}`;
    if (!this.account(this.sink.sendText(start))) return body.close();
    if (body.total_size === 0) {
      body.close();
      return void this.account(this.sink.sendText(endFrame(idJson)));
    }
    const s: Stream = {
      id,
      idJson,
      body,
      binary: opts.binary,
      credit: opts.credit ?? Infinity,
      nextRead: 0,
      sent: 0,
      seq: 0,
      reading: false,
      ready: [],
      free: [],
      done: false,
    };
    this.streams.set(id, s);
    this.readAhead(s);
    this.pump();
  }

  /** The receiver may take `chunks` more chunks of `id`. */
  credit(id: string, chunks: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    s.credit += chunks;
    this.pump();
  }

  /** Answers `id` with `direct_error`, ending its stream if one is open. */
  error(id: string, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
    this.reserved.delete(id);
    const s = this.streams.get(id);
    if (s) this.finish(s);
    this.refuse(id, code, message, details);
  }

  /** Answers a request that never opened (e.g. a duplicate id) with `direct_error`, leaving any stream alone. */
  refuse(id: string, code: ErrorCode, message: string, details?: Record<string, unknown>): void {
    if (this.closed) return;
    this.account(this.sink.sendText(JSON.stringify({ kind: "direct_error", request_id: id, code, message, details })));
  }

  /** Stops `id` without a word: whoever asked for it no longer listens. */
  cancel(id: string): void {
    this.reserved.delete(id);
    const s = this.streams.get(id);
    if (s) this.finish(s);
  }

  /** The socket's buffer has drained: carry on. */
  drain(): void {
    this.blocked = false;
    this.pump();
  }

  /** The socket is gone: every stream's file and buffers are released at once. */
  close(): void {
    this.closed = true;
    this.reserved.clear();
    for (const s of this.streams.values()) this.finish(s);
  }

  private readAhead(s: Stream): void {
    while (!s.done && !s.reading && s.ready.length < READ_AHEAD && s.nextRead < s.body.total_size) {
      const offset = s.nextRead;
      const length = Math.min(this.chunkBytes, s.body.total_size - offset);
      s.nextRead += length;
      const scratch = s.body.usesScratch ? (s.free.pop() ?? takeBuffer(this.chunkBytes)) : null;
      let got: Uint8Array | Promise<Uint8Array>;
      try {
        got = s.body.read(offset, length, scratch);
      } catch (err) {
        if (scratch) giveBuffer(scratch);
        return this.failed(s, err);
      }
      if (!(got instanceof Promise)) {
        s.ready.push({ view: got, scratch });
        continue;
      }
      s.reading = true;
      got.then(
        (view) => {
          s.reading = false;
          if (s.done) return void (scratch && giveBuffer(scratch));
          s.ready.push({ view, scratch });
          this.readAhead(s);
          this.pump();
        },
        (err) => {
          s.reading = false;
          if (scratch) giveBuffer(scratch);
          if (!s.done) this.failed(s, err);
        },
      );
    }
  }

  /** Round robin over the open streams, a chunk each per turn, until the socket pushes back or nothing is ready. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let progress = true;
      while (progress && !this.blocked && !this.closed) {
        progress = false;
        for (const s of this.streams.values()) {
          if (this.blocked || this.closed) break;
          if (s.ready.length === 0 || s.credit <= 0) continue;
          this.sendChunk(s);
          progress = true;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private sendChunk(s: Stream): void {
    const { view, scratch } = s.ready.shift()!;
    s.credit--;
    let result: number;
    if (s.binary) {
      const header = `{"kind":"direct_response_chunk","request_id":${s.idJson},"seq":${s.seq},"size":${view.byteLength}}`;
      result = 0;
      this.sink.cork(() => {
        result = this.sink.sendText(header);
        if (result !== 0) result = this.sink.sendBinary(view);
      });
    } else {
      const b64 = Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("base64");
      result = this.sink.sendText(`{"kind":"direct_response_chunk","request_id":${s.idJson},"data_b64":"${b64}"}`);
    }
    s.seq++;
    s.sent += view.byteLength;
    // The socket has taken (copied or written) the chunk: its buffer can be read into again.
    if (scratch) s.free.push(scratch);
    if (!this.account(result)) return;
    if (s.sent === s.body.total_size) {
      this.finish(s);
      this.account(this.sink.sendText(endFrame(s.idJson)));
    } else {
      this.readAhead(s);
    }
  }

  private failed(s: Stream, err: unknown): void {
    const f = err instanceof DirectFailure ? err : new DirectFailure("internal", (err as Error)?.message ?? String(err));
    this.error(s.id, f.code, f.message, f.details);
  }

  private finish(s: Stream): void {
    if (s.done) return;
    s.done = true;
    this.streams.delete(s.id);
    // A buffer a read is still filling comes back when that read settles.
    for (const p of s.ready) if (p.scratch) giveBuffer(p.scratch);
    for (const b of s.free) giveBuffer(b);
    s.ready.length = 0;
    s.free.length = 0;
    s.body.close();
  }

  /** Reads a send result: false (and everything released) when the socket dropped the frame. */
  private account(result: number): boolean {
    if (result === 0) {
      this.close();
      return false;
    }
    if (result < 0) this.blocked = true;
    return true;
  }
}

const endFrame = (idJson: string) => `{"kind":"direct_response_end","request_id":${idJson}}`;
