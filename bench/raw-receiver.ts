// The receiving sockets of the bench load processes (bench/fanout-client.ts' subscribers, bench/groups-client.ts'
// receivers, bench/hub-scale-client.ts' viewers): minimal WebSocket clients over Bun.connect (bench/ws-frames.ts).
// Bun's WebSocket client dispatches one MessageEvent (and decodes one JS string) per frame; with hundreds of receivers
// in one process that costs more CPU than the server spends fanning out, so the load process, not the server, would
// set the pace. These read the frame headers straight from each TCP chunk and only look at the first bytes of each
// payload (where the bench's figures are: a sequence number, a send time); one JS call per chunk, not per frame.
import { connectRaw, findAfter, FrameSplitter, maskedFrame } from "./ws-frames";

/** A text frame that arrives before the receiver is ready: the one that makes it ready (a subscription's ack), one to
 * pass over, or an unexpected one (fatal). */
export type Handshake = (text: string, payload: Uint8Array) => "ready" | "skip" | "unexpected";

/** Ready once the ack of the subscription `id` is in (/v1/ws/stream's subscribe_stream). */
export const subscriptionAck =
  (id: string): Handshake =>
  (text) => {
    const msg = JSON.parse(text) as { kind: string; id?: string };
    return msg.kind === "ack" && msg.id === id ? "ready" : "unexpected";
  };

export interface RawReceiverOptions {
  /** Names the receiver in error messages ("subscriber", "viewer (hub 1)"). */
  what: string;
  /** Sent once the upgrade is in (a subscribe_stream), if any. */
  subscribeMsg: string | null;
  handshake: Handshake;
  /** Payload bytes `onFrame` needs of a data frame; the rest of it is skipped unread. */
  prefixNeed: number;
  /** The process' clock, read once per TCP read: its frames all arrived together. */
  clock: () => number;
  /** One TCP read, at `now` (for frames per read). */
  onRead: (now: number) => void;
  /** A text frame after the receiver is ready: its payload's first bytes are buf[from, to), `len` its length. */
  onFrame: (buf: Uint8Array, from: number, to: number, len: number, now: number) => void;
  /** Whether the run is over: the sockets closing is then expected. */
  over: () => boolean;
  fail: (message: string) => never;
}

export class RawReceiver {
  private socket!: Bun.Socket<undefined>;
  private ready_ = false;
  private readonly frames: FrameSplitter;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  readonly ready = new Promise<void>((res, rej) => {
    this.resolveReady = res;
    this.rejectReady = rej;
  });

  constructor(
    private readonly url: URL,
    private readonly o: RawReceiverOptions,
  ) {
    // Before it is ready, text frames go to the handshake whole.
    this.frames = new FrameSplitter(o.prefixNeed, (opcode) => opcode === 1 && this.ready_, o.onFrame, (opcode, payload) => this.control(opcode, payload));
  }

  async connect(): Promise<void> {
    const timer = setTimeout(() => this.rejectReady(new Error(`timeout connecting a ${this.o.what}`)), 15_000);
    this.socket = await connectRaw(this.url, {
      upgraded: (socket) => {
        if (this.o.subscribeMsg) socket.write(maskedFrame(1, new TextEncoder().encode(this.o.subscribeMsg)));
      },
      data: (chunk) => {
        const now = this.o.clock();
        this.o.onRead(now);
        this.frames.feed(chunk, now);
      },
      closed: () => {
        if (!this.o.over()) this.o.fail(`a ${this.o.what} socket closed during the run`);
      },
      failed: (err) => this.rejectReady(err),
    });
    try {
      await this.ready;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.socket.end();
  }

  private control(opcode: number, payload: Uint8Array): void {
    if (opcode === 9) return void this.socket.write(maskedFrame(10, payload)); // ping -> pong
    if (opcode === 10) return;
    if (opcode === 8) {
      if (!this.o.over()) this.o.fail(`server closed a ${this.o.what}: ${Buffer.from(payload.subarray(2)).toString()}`);
      return;
    }
    const text = Buffer.from(payload).toString();
    if (!this.ready_) {
      const h = this.o.handshake(text, payload);
      if (h === "skip") return;
      if (h === "ready") {
        this.ready_ = true;
        return this.resolveReady();
      }
    }
    this.o.fail(`${this.o.what} got an unexpected frame: ${text.slice(0, 300)}`);
  }
}

/** Finds a pattern (`"seq":`) in a frame's first bytes. Every bench frame has the same head, so it is where it was
 * last time: it scans only when it is not. */
export class PatternFinder {
  private offset = 0;

  constructor(
    private readonly pattern: Uint8Array,
    private readonly prefixNeed: number,
  ) {}

  /** Where the pattern ends in the payload starting at buf[from] (of which buf[from, to) is in), or -1. */
  find(buf: Uint8Array, from: number, to: number): number {
    const p = this.pattern;
    const i = from + this.offset;
    for (let k = 0; k < p.length; k++) {
      if (buf[i - p.length + k] !== p[k]) {
        const found = findAfter(buf, p, from, Math.min(to, from + this.prefixNeed));
        if (found >= 0) this.offset = found - from;
        return found;
      }
    }
    return i;
  }
}

const C_DOT = 46;
const C_0 = 48;
const C_9 = 57;

/** Reads an unsigned decimal number (digits, optionally '.' and more digits) where it stands in a frame, without
 * making a string of it; `end` is then where it stopped. */
export class NumberReader {
  end = 0;

  read(buf: Uint8Array, at: number): number {
    let i = at;
    let c: number;
    let x = 0;
    while ((c = buf[i]!) >= C_0 && c <= C_9) {
      x = x * 10 + (c - C_0);
      i++;
    }
    if (c === C_DOT) {
      let scale = 0.1;
      i++;
      while ((c = buf[i]!) >= C_0 && c <= C_9) {
        x += (c - C_0) * scale;
        scale *= 0.1;
        i++;
      }
    }
    this.end = i;
    return x;
  }
}

/** `"seq":N,"t":T` from a frame's first bytes (the fan-out and group benches): N in `seq`, T in `t`; false if the
 * frame has no "seq" there. */
export class SeqTReader {
  seq = 0;
  t = 0;
  private readonly at: PatternFinder;
  private readonly num = new NumberReader();

  constructor(prefixNeed: number) {
    this.at = new PatternFinder(new TextEncoder().encode('"seq":'), prefixNeed);
  }

  read(buf: Uint8Array, from: number, to: number): boolean {
    const i = this.at.find(buf, from, to);
    if (i < 0) return false;
    this.seq = this.num.read(buf, i);
    this.t = this.num.read(buf, this.num.end + 5); // ,"t":
    return true;
  }
}
