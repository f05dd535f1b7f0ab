// Load process of the fan-out benchmark: one publisher and N subscribers in one Bun process, against either the
// skynode hub (`/v1/ws/stream`) or bench/bare-server.ts. Driven by bench/run.ts over stdin/stdout:
//   argv[2] = JSON ClientConfig; stdout = one JSON object per line, `event` being ready | measure_start | measure_end |
//   paced_start | paced_end | result | error; stdin "go" starts the load once everything is connected and subscribed,
//   "close" closes the sockets and exits (so does EOF on stdin: a killed runner leaves no client behind).
//
// Load: the publisher keeps at most `window` snapshots in flight, where a snapshot stops being in flight once every
// subscriber has received it, so the server is saturated without unbounded queueing. Deliveries/s = frames received
// by all subscribers inside the measurement interval / its length. Latency = receive time - send time embedded in
// the frame (`"t"`, performance.now() of this process, so one clock). A second, paced phase (fixed rate) measures
// latency at moderate load. In bare mode the publisher sends exactly the event frame the hub would deliver, so the
// subscribers receive the same bytes from both servers.
import { connectRaw, findAfter, FrameSplitter, maskedFrame } from "./ws-frames";

export interface ClientConfig {
  mode: "skynode" | "bare";
  pubUrl: string;
  subUrl: string;
  subscribers: number;
  window: number;
  batch: number; // the publisher tops the window up only once this many slots are free (then sends them back to back)
  warmupMs: number;
  durationMs: number;
  pacedRate: number; // snapshots per second in the paced phase
  pacedMs: number;
  payloadBytes: number; // target size of the frame a subscriber receives
}

export interface LatencySummary {
  samples: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface ClientResult {
  event: "result";
  mode: ClientConfig["mode"];
  subscribers: number;
  frame_bytes: number;
  measured_s: number;
  published: number;
  deliveries: number;
  deliveries_per_s: number;
  snapshots_per_s: number;
  saturated: LatencySummary;
  paced: LatencySummary & { rate_per_s: number; deliveries: number; expected: number };
  client_cpu_pct: number;
  client_sys_pct: number;
  /** Frames per subscriber TCP read: how much data had piled up per socket (server write batching, client lag). */
  frames_per_read: number;
  connect_ms: number;
  lost: number;
}

const cfg = JSON.parse(Bun.argv[2] ?? "{}") as ClientConfig;
const S = cfg.subscribers;
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

// ---- frames ------------------------------------------------------------------------------------------------------
// The snapshot starts with "seq" and "t" so a subscriber finds them without parsing the whole frame; the rest is a
// plausible static telescope state plus padding up to the target frame size.
const STATIC_STATE = {
  observatory_uid: "obs-1",
  mount: { state: "tracking", ra_deg: 83.82208, dec_deg: -5.39111, alt_deg: 41.2, az_deg: 171.9, pier_side: "east", slewing: false, tracking_rate: "sidereal" },
  focuser: { position: 21450, moving: false, temperature_c: 7.25 },
  site: { latitude_deg: 35.91, longitude_deg: -79.05, elevation_m: 150 },
  limits: { ra_positive: false, ra_negative: false, dec_positive: false, dec_negative: false },
  pad: "",
};
const EVENT_HEAD = `{"kind":"event_telescope_snapshot","subscription_id":"${SUBSCRIPTION}","telescope_uid":"${TELESCOPE}","snapshot":`;
const PUBLISH_HEAD =
  cfg.mode === "skynode" ? `{"kind":"publish_telescope_snapshot","telescope_uid":"${TELESCOPE}","snapshot":` : EVENT_HEAD;
function stateTail(pad: number): string {
  return "," + JSON.stringify({ ...STATIC_STATE, pad: "x".repeat(pad) }).slice(1) + "}";
}
const SAMPLE_ST = `{"seq":100000,"t":1234.567`;
const padLen = Math.max(0, cfg.payloadBytes - (EVENT_HEAD + SAMPLE_ST + stateTail(0)).length);
const TAIL = stateTail(padLen);
// In bare mode the publisher sends exactly the frame the hub would deliver, so subscribers receive the same bytes.
const frame = (seq: number, t: number) => `${PUBLISH_HEAD}{"seq":${seq},"t":${t.toFixed(3)}${TAIL}`;

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
const RING = 1 << 14; // > window: per-seq receive counts
const MASK = RING - 1;
const counts = new Uint32Array(RING);
let sent = 0; // highest seq published
let completed = 0; // every seq <= completed has reached every subscriber (completions happen in order)
let t0 = Infinity; // measurement interval [t0, t1)
let t1 = Infinity;
let deliveries = 0;
let pacedFirstSeq = Infinity;
let pacedDeliveries = 0;
let frameBytes = 0;
let totalReceived = 0;
let reads = 0; // data callbacks (TCP reads) of all subscribers inside the measurement interval
const satHist = new Histogram();
const pacedHist = new Histogram();
let publisher!: WebSocket;
const subs: RawSubscriber[] = [];

function pump(): void {
  if (phase !== "saturate") return;
  const now = performance.now();
  if (now >= t1) return;
  if (cfg.window - (sent - completed) < cfg.batch) return;
  while (sent - completed < cfg.window) {
    sent++;
    publisher.send(frame(sent, performance.now()));
  }
}

/** One delivered snapshot: `seq` and the embedded send time `t`, read from the frame by the subscriber. */
function onSnapshot(seq: number, t: number, bytes: number, now: number): void {
  totalReceived++;
  if (now >= t0 && now < t1) {
    deliveries++;
    satHist.add(now - t);
    frameBytes = bytes;
  } else if (seq >= pacedFirstSeq) {
    pacedDeliveries++;
    pacedHist.add(now - t);
  }
  const slot = seq & MASK;
  if (++counts[slot]! === S) {
    counts[slot] = 0;
    completed = seq;
    pump();
  }
}

// ---- subscribers: a minimal WebSocket client over Bun.connect ----------------------------------------------------
// Bun's WebSocket client dispatches one MessageEvent (and decodes one JS string) per frame; with 200 subscribers that
// costs more CPU than the server spends fanning out, so the load process, not the server, would set the pace. These
// subscribers read the frame headers straight from each TCP chunk and only look at the first bytes of each payload
// (where "seq" and "t" are); one JS call per chunk, not per frame.
const SEQ_PATTERN = new TextEncoder().encode('"seq":');
const PREFIX_NEED = 200; // payload bytes needed to find seq and t
let seqOffset = 0; // where the seq digits started in the last frame, from the payload start
const C_COMMA = 44;
const C_DOT = 46;
const C_0 = 48;

class RawSubscriber {
  private socket!: Bun.Socket<undefined>;
  private acked = false;
  private readonly frames = new FrameSplitter(
    PREFIX_NEED,
    (opcode) => opcode === 1 && this.acked,
    (buf, from, to, len, now) => this.snapshot(buf, from, to, len, now),
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
    const timer = setTimeout(() => this.rejectReady(new Error("timeout connecting a subscriber")), 15_000);
    this.socket = await connectRaw(this.url, {
      upgraded: (socket) => {
        if (this.subscribeMsg) socket.write(maskedFrame(1, new TextEncoder().encode(this.subscribeMsg)));
      },
      data: (chunk) => this.onData(chunk),
      closed: () => {
        if (phase !== "done") fail("a subscriber socket closed during the run");
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
    const now = performance.now(); // one clock read per TCP read: its frames all arrived together
    if (now >= t0 && now < t1) reads++;
    this.frames.feed(chunk, now);
  }

  private snapshot(buf: Uint8Array, from: number, to: number, len: number, now: number): void {
    // Every frame has the same head, so "seq" is where it was last time; scan only when it is not.
    let i = from + seqOffset;
    for (let k = 0; k < SEQ_PATTERN.length; k++) {
      if (buf[i - SEQ_PATTERN.length + k] !== SEQ_PATTERN[k]) {
        i = findAfter(buf, SEQ_PATTERN, from, Math.min(to, from + PREFIX_NEED));
        seqOffset = i - from;
        break;
      }
    }
    if (i < 0) fail(`unexpected frame: ${Buffer.from(buf.subarray(from, Math.min(to, from + 300))).toString()}`);
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
    onSnapshot(seq, t, len, now);
  }

  private control(opcode: number, payload: Uint8Array): void {
    if (opcode === 9) return void this.socket.write(maskedFrame(10, payload)); // ping -> pong
    if (opcode === 10) return;
    if (opcode === 8) {
      if (phase !== "done") fail(`server closed a subscriber: ${Buffer.from(payload.subarray(2)).toString()}`);
      return;
    }
    const text = Buffer.from(payload).toString();
    if (!this.acked) {
      const msg = JSON.parse(text) as { kind: string; id?: string };
      if (msg.kind === "ack" && msg.id === SUBSCRIPTION) {
        this.acked = true;
        return this.resolveReady();
      }
    }
    fail(`subscriber got an unexpected frame: ${text.slice(0, 300)}`);
  }
}

/** The publisher is one ordinary Bun WebSocket: it sends a few thousand frames a second and receives none. */
function connectPublisher(url: string): Promise<WebSocket> {
  const safe = url.replace(/token=[^&]+/, "token=…");
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error(`timeout connecting ${safe}`)), 15_000);
    ws.onerror = () => reject(new Error(`websocket error on ${safe}`));
    ws.onclose = (ev) => {
      if (phase !== "done") fail(`publisher socket closed during the run: ${ev.code} ${ev.reason}`);
    };
    ws.onmessage = (ev) => fail(`publisher got ${String(ev.data).slice(0, 300)}`);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
  });
}

async function setup(): Promise<number> {
  const start = performance.now();
  publisher = await connectPublisher(cfg.pubUrl);
  const subscribeMsg = JSON.stringify({
    kind: "subscribe_stream",
    subscription_id: SUBSCRIPTION,
    streams: ["telescope_snapshot"],
    filter: { telescope_uid: TELESCOPE },
  });
  const one = async () => {
    const sub = new RawSubscriber(new URL(cfg.subUrl), cfg.mode === "skynode" ? subscribeMsg : null);
    await sub.connect();
    return sub;
  };
  // 25 connections at a time: the server's accept backlog is never the question here.
  for (let i = 0; i < S; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, S - i) }, one));
    subs.push(...batch);
  }
  return performance.now() - start;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitDrained(timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (completed < sent && performance.now() < end) await sleep(5);
}

async function run(connectMs: number): Promise<ClientResult> {
  // Saturated phase: warm-up, then the measurement interval.
  phase = "saturate";
  const start = performance.now();
  t0 = start + cfg.warmupMs;
  t1 = t0 + cfg.durationMs;
  pump();
  await sleep(cfg.warmupMs);
  const cpu0 = process.cpuUsage();
  emit({ event: "measure_start" });
  await sleep(t1 - performance.now());
  while (performance.now() < t1) await sleep(1);
  const cpu = process.cpuUsage(cpu0);
  emit({ event: "measure_end" });
  phase = "drain";
  const published = sent;
  await waitDrained(10_000);
  if (completed < sent) fail(`saturated phase: ${sent - completed} snapshots never reached every subscriber`);

  // Paced phase: one snapshot every 1/rate s.
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
    sent++;
    n++;
    publisher.send(frame(sent, performance.now()));
  }
  await waitDrained(10_000);
  emit({ event: "paced_end", elapsed_ms: performance.now() - pacedStart });
  const lost = (sent - completed) * S;
  phase = "done";

  const measuredS = cfg.durationMs / 1000;
  return {
    event: "result",
    mode: cfg.mode,
    subscribers: S,
    frame_bytes: frameBytes,
    measured_s: measuredS,
    published,
    deliveries,
    deliveries_per_s: Math.round(deliveries / measuredS),
    snapshots_per_s: Math.round(deliveries / S / measuredS),
    saturated: satHist.summary(),
    paced: { ...pacedHist.summary(), rate_per_s: cfg.pacedRate, deliveries: pacedDeliveries, expected: n * S },
    client_cpu_pct: Math.round(((cpu.user + cpu.system) / 1000 / cfg.durationMs) * 1000) / 10,
    client_sys_pct: Math.round((cpu.system / 1000 / cfg.durationMs) * 1000) / 10,
    frames_per_read: Math.round((deliveries / Math.max(1, reads)) * 100) / 100,
    connect_ms: Math.round(connectMs),
    lost,
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
        publisher.close();
        for (const sub of subs) sub.close();
        await sleep(50);
        process.exit(0);
      }
    }
  }
}

main().catch((err) => fail((err as Error).message ?? String(err)));
