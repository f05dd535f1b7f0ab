// Load process of the group fan-out benchmark (bench/groups.ts): one sender and N receivers in one Bun process, on
// either path of the same server:
//   v3:     every socket on /v3/ws/group/bench/client/{id}?api_key=..&jwt=.. (seed 004); the sender sends
//           {"msg_type":"msg","target":"group","payload":{"seq","t","pad"}}, which reaches every receiver (and the
//           sender itself, a member too).
//   stream: the receivers subscribe on /v1/ws/stream (viewer token) to sim-1's telescope_snapshot, all with
//           subscription_id "dash" (as bench/fanout-client.ts); the sender is a `skynode` connection publishing
//           publish_telescope_snapshot with the same {"seq","t","pad"} object as the snapshot.
// Driven over stdin/stdout as bench/fanout-client.ts: argv[2] = JSON GroupsClientConfig; stdout = one JSON object per
// line, `event` being ready | measure_start | measure_end | paced_start | paced_end | result | error; stdin "go"
// starts the load, "close" closes the sockets and exits (so does EOF on stdin).
//
// Load (bench/fanout-client.ts' design): at most `window` messages in flight, where a message stops being in flight
// once every receiver has it (or, if one never arrives, after `lossTimeoutMs`: counted as lost), refilled in bursts of
// >= `batch`; then a paced phase at a fixed rate. Deliveries/s = bench messages received by all receivers inside the
// measurement interval / its length. Latency = receive time - `t` stamped by the sender (performance.timeOrigin +
// performance.now(), the clock every bench process agrees on). Receivers are minimal WebSocket clients over
// Bun.connect (bench/ws-frames.ts) that read only the first bytes of each frame; v3 presence messages (joins of the
// later receivers and of the sender) are recognised and counted apart, never as deliveries.
import { connectRaw, findAfter, FrameSplitter, maskedFrame } from "./ws-frames";

export type GroupsPath = "v3" | "stream";

export interface GroupsClientConfig {
  path: GroupsPath;
  senderUrl: string;
  /** Receiver i's URL: `{i}` replaced by its index. */
  receiverUrl: string;
  receivers: number;
  window: number;
  batch: number;
  warmupMs: number;
  durationMs: number;
  pacedRate: number;
  pacedMs: number;
  /** Target size of the frame a receiver gets (the pad is sized for the path's envelope). */
  frameBytes: number;
  lossTimeoutMs: number;
  /** v3: the group and the sender's client id (for sizing the pad: they are in every frame's envelope). */
  group: string;
  senderId: string;
}

export interface LatencySummary {
  samples: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface GroupsClientResult {
  event: "result";
  path: GroupsPath;
  receivers: number;
  frame_bytes: number;
  measured_s: number;
  published: number;
  deliveries: number;
  deliveries_per_s: number;
  messages_per_s: number;
  saturated: LatencySummary;
  paced: LatencySummary & { rate_per_s: number; deliveries: number; expected: number };
  client_cpu_pct: number;
  client_sys_pct: number;
  frames_per_read: number;
  connect_ms: number;
  /** Deliveries that never arrived (given up after lossTimeoutMs), over the whole run. */
  lost: number;
  /** v3: presence frames the receivers got (joins during setup), and the sender's own copies of its messages. */
  presence_frames: number;
  sender_echoes: number;
}

const cfg = JSON.parse(Bun.argv[2] ?? "{}") as GroupsClientConfig;
const R = cfg.receivers;
const TELESCOPE = "sim-1";
const SUBSCRIPTION = "dash";

function emit(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
function fail(message: string): never {
  emit({ event: "error", message });
  process.exit(1);
}
setTimeout(() => fail("client watchdog: no 'close' within 90 s"), 90_000).unref();

const clock = () => performance.timeOrigin + performance.now();

// ---- messages ----------------------------------------------------------------------------------------------------
// The same object on both paths, "seq" and "t" first so a receiver finds them in the first bytes of the frame:
// {"seq":N,"t":T,"pad":"xxx…"}. The envelopes differ (what a receiver gets around it), so the pad is sized per path
// for a frame of cfg.frameBytes; the receivers report the size they actually got.
const SAMPLE_T = clock().toFixed(3);
const ENVELOPE = {
  v3: {
    send: `{"msg_type":"msg","target":"group","payload":`,
    receive: `{"version":"3","msg_type":"msg","target":"group","from_id":"${cfg.senderId}","group_id":"${cfg.group}","payload":#,"sent_at":"${new Date().toISOString()}"}`,
  },
  stream: {
    send: `{"kind":"publish_telescope_snapshot","telescope_uid":"${TELESCOPE}","snapshot":`,
    receive: `{"kind":"event_telescope_snapshot","subscription_id":"${SUBSCRIPTION}","telescope_uid":"${TELESCOPE}","snapshot":#}`,
  },
}[cfg.path];
const body = (seq: number, t: string, pad: string) => `{"seq":${seq},"t":${t},"pad":"${pad}"}`;
const PAD = "x".repeat(Math.max(0, cfg.frameBytes - ENVELOPE.receive.replace("#", body(100000, SAMPLE_T, "")).length));
const SEND_TAIL = `,"pad":"${PAD}"}}`;
const message = (seq: number, t: number) => `${ENVELOPE.send}{"seq":${seq},"t":${t.toFixed(3)}${SEND_TAIL}`;

// ---- latency histograms (10 µs buckets up to 2 s) ----------------------------------------------------------------
const BUCKETS = 200_000;
class Histogram {
  readonly counts = new Uint32Array(BUCKETS + 1);
  n = 0;
  max = 0;
  add(ms: number): void {
    const b = Math.max(0, Math.floor(ms * 100));
    this.counts[b < BUCKETS ? b : BUCKETS]!++;
    this.n++;
    if (ms > this.max) this.max = ms;
  }
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const target = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return (i + 0.5) / 100;
    }
    return this.max;
  }
  summary(): LatencySummary {
    const r = (x: number) => Math.round(x * 1000) / 1000;
    return { samples: this.n, p50_ms: r(this.quantile(0.5)), p99_ms: r(this.quantile(0.99)), max_ms: r(this.max) };
  }
}

// ---- state -------------------------------------------------------------------------------------------------------
type Phase = "setup" | "saturate" | "drain" | "paced" | "done";
let phase: Phase = "setup";
const RING = 1 << 14; // > window: per-seq receive counts and send times
const MASK = RING - 1;
const counts = new Uint32Array(RING);
const sentAt = new Float64Array(RING);
let sent = 0; // highest seq sent
let completed = 0; // every seq <= completed has reached every receiver or been given up on
let t0 = Infinity; // measurement interval [t0, t1) on clock()
let t1 = Infinity;
let deliveries = 0;
let pacedFirstSeq = Infinity;
let pacedDeliveries = 0;
let frameBytes = 0;
let reads = 0;
let lost = 0;
let presenceFrames = 0;
let senderEchoes = 0;
const satHist = new Histogram();
const pacedHist = new Histogram();
let sender!: WebSocket;
const receivers: Receiver[] = [];

function send(): void {
  sent++;
  const now = clock();
  sentAt[sent & MASK] = now;
  sender.send(message(sent, now));
}

function pump(): void {
  if (phase !== "saturate") return;
  if (clock() >= t1) return;
  if (cfg.window - (sent - completed) < cfg.batch) return;
  while (sent - completed < cfg.window) send();
}

/** Marks seq (and every earlier one still in flight: those are lost for the receivers that lack them) complete. */
function completeThrough(seq: number): void {
  for (let s = completed + 1; s < seq; s++) {
    lost += R - counts[s & MASK]!;
    counts[s & MASK] = 0;
  }
  lost += R - counts[seq & MASK]!;
  counts[seq & MASK] = 0;
  completed = seq;
}

/** One delivered bench message: `seq` and the embedded send time `t`, read from the frame by the receiver. */
function onMessage(seq: number, t: number, bytes: number, now: number): void {
  if (now >= t0 && now < t1) {
    deliveries++;
    satHist.add(now - t);
    frameBytes = bytes;
  } else if (seq >= pacedFirstSeq) {
    pacedDeliveries++;
    pacedHist.add(now - t);
  }
  if (seq <= completed) return; // arrived after it was given up on: delivered, but no longer counted in flight
  const slot = seq & MASK;
  if (++counts[slot]! === R) {
    completeThrough(seq);
    pump();
  }
}

/** Gives up on the oldest in-flight message once it is lossTimeoutMs old (a dropped frame would stall the window). */
const lossTimer = setInterval(() => {
  if (phase === "setup" || phase === "done") return;
  const now = clock();
  let gaveUp = false;
  while (completed < sent && now - sentAt[(completed + 1) & MASK]! > cfg.lossTimeoutMs) {
    completeThrough(completed + 1);
    gaveUp = true;
  }
  if (gaveUp) pump();
}, 50);
lossTimer.unref();

// ---- receivers: a minimal WebSocket client over Bun.connect (bench/fanout-client.ts' RawSubscriber) -------------
const SEQ_PATTERN = new TextEncoder().encode('"seq":');
const PRESENCE_PATTERN = new TextEncoder().encode('"msg_type":"presence"');
const SNAPSHOT_PATTERN = new TextEncoder().encode('"event":"snapshot"');
const PREFIX_NEED = 300; // payload bytes needed to find seq and t (after the v3 envelope's head)
let seqOffset = 0; // where the seq digits started in the last frame, from the payload start
const C_COMMA = 44;
const C_DOT = 46;
const C_0 = 48;

class Receiver {
  private socket!: Bun.Socket<undefined>;
  /** stream: the subscribe ack is in; v3: the presence snapshot (the server's first message to a member) is in. */
  private ready_ = false;
  private readonly frames = new FrameSplitter(
    PREFIX_NEED,
    (opcode) => opcode === 1 && this.ready_,
    (buf, from, to, len, now) => this.frame(buf, from, to, len, now),
    (opcode, payload) => this.control(opcode, payload),
  );
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  readonly ready = new Promise<void>((res, rej) => {
    this.resolveReady = res;
    this.rejectReady = rej;
  });

  constructor(
    private readonly url: URL,
    private readonly subscribeMsg: string | null,
  ) {}

  async connect(): Promise<void> {
    const timer = setTimeout(() => this.rejectReady(new Error("timeout connecting a receiver")), 15_000);
    this.socket = await connectRaw(this.url, {
      upgraded: (socket) => {
        if (this.subscribeMsg) socket.write(maskedFrame(1, new TextEncoder().encode(this.subscribeMsg)));
      },
      data: (chunk) => this.onData(chunk),
      closed: () => {
        if (phase !== "done") fail("a receiver socket closed during the run");
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

  private onData(chunk: Uint8Array): void {
    const now = clock(); // one clock read per TCP read: its frames all arrived together
    if (now >= t0 && now < t1) reads++;
    this.frames.feed(chunk, now);
  }

  private frame(buf: Uint8Array, from: number, to: number, len: number, now: number): void {
    // Every bench frame has the same head, so "seq" is where it was last time; scan only when it is not.
    const end = Math.min(to, from + PREFIX_NEED);
    let i = from + seqOffset;
    for (let k = 0; k < SEQ_PATTERN.length; k++) {
      if (buf[i - SEQ_PATTERN.length + k] !== SEQ_PATTERN[k]) {
        i = findAfter(buf, SEQ_PATTERN, from, end);
        if (i < 0) {
          if (cfg.path === "v3" && findAfter(buf, PRESENCE_PATTERN, from, end) >= 0) return void presenceFrames++;
          fail(`receiver got an unexpected frame: ${Buffer.from(buf.subarray(from, end)).toString()}`);
        }
        seqOffset = i - from;
        break;
      }
    }
    let seq = 0;
    let c: number;
    while ((c = buf[i]!) !== C_COMMA) {
      seq = seq * 10 + (c - C_0);
      i++;
    }
    i += 5; // ,"t":
    let t = 0;
    while ((c = buf[i]!) !== C_DOT && c !== C_COMMA) {
      t = t * 10 + (c - C_0);
      i++;
    }
    if (c === C_DOT) {
      let scale = 0.1;
      i++;
      while ((c = buf[i]!) !== C_COMMA) {
        t += (c - C_0) * scale;
        scale *= 0.1;
        i++;
      }
    }
    onMessage(seq, t, len, now);
  }

  private control(opcode: number, payload: Uint8Array): void {
    if (opcode === 9) return void this.socket.write(maskedFrame(10, payload)); // ping -> pong
    if (opcode === 10) return;
    if (opcode === 8) {
      if (phase !== "done") fail(`server closed a receiver: ${Buffer.from(payload.subarray(2)).toString()}`);
      return;
    }
    const text = Buffer.from(payload).toString();
    if (!this.ready_) {
      if (cfg.path === "stream") {
        const msg = JSON.parse(text) as { kind: string; id?: string };
        if (msg.kind === "ack" && msg.id === SUBSCRIPTION) {
          this.ready_ = true;
          return this.resolveReady();
        }
      } else if (findAfter(payload, PRESENCE_PATTERN, 0, payload.length) >= 0) {
        presenceFrames++;
        if (findAfter(payload, SNAPSHOT_PATTERN, 0, payload.length) >= 0) {
          this.ready_ = true;
          this.resolveReady();
        }
        return;
      }
    }
    fail(`receiver got an unexpected frame: ${text.slice(0, 300)}`);
  }
}

/** The sender is one ordinary Bun WebSocket (as the fan-out bench's publisher). On v3 it is a group member: it gets
 * each of its messages back, and the presence joins; an ERROR (target echo, cmd ERROR) fails the run. */
function connectSender(url: string): Promise<WebSocket> {
  const safe = url.replace(/(token|api_key|jwt)=[^&]+/g, "$1=…");
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error(`timeout connecting ${safe}`)), 15_000);
    ws.onerror = () => reject(new Error(`websocket error on ${safe}`));
    ws.onclose = (ev) => {
      if (phase !== "done") fail(`sender socket closed during the run: ${ev.code} ${ev.reason}`);
    };
    ws.onmessage = (ev) => {
      const text = String(ev.data);
      if (cfg.path === "v3") {
        if (text.startsWith('{"version":"3","msg_type":"msg","target":"group"')) return void senderEchoes++;
        if (text.startsWith('{"version":"3","msg_type":"presence"')) return;
      }
      fail(`sender got ${text.slice(0, 300)}`);
    };
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
  });
}

async function setup(): Promise<number> {
  const start = performance.now();
  const subscribeMsg =
    cfg.path === "stream"
      ? JSON.stringify({
          kind: "subscribe_stream",
          subscription_id: SUBSCRIPTION,
          streams: ["telescope_snapshot"],
          filter: { telescope_uid: TELESCOPE },
        })
      : null;
  // The receivers first (on v3 the sender's join is then the last presence message they get), 25 at a time.
  const one = async (i: number) => {
    const r = new Receiver(new URL(cfg.receiverUrl.replace("{i}", String(i))), subscribeMsg);
    await r.connect();
    return r;
  };
  for (let i = 0; i < R; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, R - i) }, (_, k) => one(i + k)));
    receivers.push(...batch);
  }
  sender = await connectSender(cfg.senderUrl);
  // v3: let the joins (O(receivers²) presence frames) finish arriving before the load starts.
  let last = presenceFrames;
  for (let quiet = 0; cfg.path === "v3" && quiet < 4; ) {
    await sleep(50);
    quiet = presenceFrames === last ? quiet + 1 : 0;
    last = presenceFrames;
  }
  return performance.now() - start;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitDrained(timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (completed < sent && performance.now() < end) await sleep(5);
}

async function run(connectMs: number): Promise<GroupsClientResult> {
  // Saturated phase: warm-up, then the measurement interval.
  phase = "saturate";
  const start = clock();
  t0 = start + cfg.warmupMs;
  t1 = t0 + cfg.durationMs;
  pump();
  await sleep(cfg.warmupMs);
  const cpu0 = process.cpuUsage();
  emit({ event: "measure_start" });
  while (clock() < t1) await sleep(Math.max(1, t1 - clock()));
  const cpu = process.cpuUsage(cpu0);
  emit({ event: "measure_end" });
  phase = "drain";
  const published = sent;
  await waitDrained(cfg.lossTimeoutMs + 5000);
  if (completed < sent) fail(`saturated phase: ${sent - completed} messages still in flight after the drain`);

  // Paced phase: one message every 1/rate s.
  await sleep(100);
  phase = "paced";
  pacedFirstSeq = sent + 1;
  const interval = 1000 / cfg.pacedRate;
  const pacedStart = performance.now();
  emit({ event: "paced_start" });
  let n = 0;
  while (performance.now() - pacedStart < cfg.pacedMs) {
    const due = pacedStart + n * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    n++;
    send();
  }
  await waitDrained(cfg.lossTimeoutMs + 5000);
  emit({ event: "paced_end", elapsed_ms: performance.now() - pacedStart });
  lost += (sent - completed) * R;
  phase = "done";

  const measuredS = cfg.durationMs / 1000;
  return {
    event: "result",
    path: cfg.path,
    receivers: R,
    frame_bytes: frameBytes,
    measured_s: measuredS,
    published,
    deliveries,
    deliveries_per_s: Math.round(deliveries / measuredS),
    messages_per_s: Math.round(deliveries / R / measuredS),
    saturated: satHist.summary(),
    paced: { ...pacedHist.summary(), rate_per_s: cfg.pacedRate, deliveries: pacedDeliveries, expected: n * R },
    client_cpu_pct: Math.round(((cpu.user + cpu.system) / 1000 / cfg.durationMs) * 1000) / 10,
    client_sys_pct: Math.round((cpu.system / 1000 / cfg.durationMs) * 1000) / 10,
    frames_per_read: Math.round((deliveries / Math.max(1, reads)) * 100) / 100,
    connect_ms: Math.round(connectMs),
    lost,
    presence_frames: presenceFrames,
    sender_echoes: senderEchoes,
  };
}

async function main(): Promise<void> {
  const connectMs = await setup();
  emit({ event: "ready", connect_ms: Math.round(connectMs) });
  const reader = Bun.stdin.stream().getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) fail("stdin closed");
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === "go") emit(await run(connectMs));
      else if (line === "close") {
        phase = "done";
        sender.close();
        for (const r of receivers) r.close();
        await sleep(50);
        process.exit(0);
      }
    }
  }
}

main().catch((err) => fail((err as Error).message ?? String(err)));
