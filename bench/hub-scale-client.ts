// Load process of the hub scale benchmark (bench/hub-scale.ts): its share of the simulated SkyNodes (each a Bun
// WebSocket on /v1/ws/stream with a skynode token, publishing telescope snapshots at `hz`) and of the viewers (minimal
// WebSocket clients over Bun.connect, each subscribed to every telescope's telescope_snapshot stream), spread over
// one or more hub instances. Driven over stdin/stdout:
//   argv[2] = JSON HubClientConfig; stdout = one JSON object per line, `event` being ready | result | error;
//   stdin "go START_MS" starts the schedule at START_MS (the shared clock below), "close" closes the sockets and
//   exits (so does EOF on stdin: a killed runner leaves no client behind).
//
// Clock: every process of the run (bench/hub-scale.ts and each client) uses performance.timeOrigin +
// performance.now() (wall-clock milliseconds with sub-ms precision; the processes agree to ~5 µs, measured by
// ping-pong over a pipe), so a snapshot's `sent_at_ms` can be compared with the receive time in another process.
// (Not process.hrtime: Bun's counts from the process' start.) Latency = receive time of the TCP read that carried the
// frame - sent_at_ms.
import { connectSender, fail, Histogram, serveRunner, startLoadProcess } from "./load-process";
import { sleep } from "./procs";
import { NumberReader, PatternFinder, RawReceiver, subscriptionAck } from "./raw-receiver";

export interface HubClientConfig {
  client: number;
  /** ws://HOST:PORT of each hub instance. */
  hubs: string[];
  /** A viewer token per hub (the instances share one signing key, but each gets its own string anyway). */
  viewerTokens: string[];
  skynodes: { n: number; uid: string; token: string; hub: number; phase: number }[];
  /** The hub of every SkyNode of the run (all load processes), by telescope index n - 1: for the local/cross split. */
  telescopeHubs: number[];
  /** Per viewer, the index of the hub it connects to. */
  viewers: number[];
  hz: number;
  snapshotBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface HubClientResult {
  event: "result";
  client: number;
  skynodes: number;
  viewers: number;
  /** Publishes whose send time fell in the measurement window, and all publishes. */
  published_in_window: number;
  published_total: number;
  planned_in_window: number;
  /** Publishes sent more than 10 ms after their due time (this process' event loop was busy). */
  publish_late: number;
  publish_lag_max_ms: number;
  /** Frames received inside the window (by receive time). */
  received_in_window: number;
  /** Frames received (at any time until the drain ended) of publishes sent inside the window (by send time). */
  received_of_window_publishes: number;
  /** Of received_in_window: those from a SkyNode connected to the viewer's own hub instance, and from another one. */
  received_local: number;
  received_cross: number;
  /** Latency histogram of the frames received inside the window: [10 µs bucket, count] pairs (sparse). */
  histogram: [number, number][];
  max_ms: number;
  frame_bytes: number;
  frames_per_read: number;
  connect_ms: number;
  client_cpu_s: number;
  /** This process' clock when "go" arrived (the runner checks it against its own: one clock for all processes). */
  go_received_at: number;
}

const cfg = startLoadProcess<HubClientConfig>(120_000, (c) => `client ${c.client}`);
const SUBSCRIPTION = "fleet";


const clock = () => performance.timeOrigin + performance.now();

// ---- snapshots ---------------------------------------------------------------------------------------------------
// `sent_at_ms` and `n` (the telescope's index) come first, so a viewer finds them in the first bytes of the frame.
const STATE = {
  observatory_uid: "obs-1",
  mount: { state: "tracking", ra_deg: 83.82208, dec_deg: -5.39111, alt_deg: 41.2, az_deg: 171.9, pier_side: "east", tracking_rate: "sidereal" },
  focuser: { position: 21450, moving: false, temperature_c: 7.25 },
  camera: { state: "exposing", exposure_s: 30, progress: 0.42 },
  pad: "",
};
const SAMPLE_HEAD = `{"sent_at_ms":1795801513619.045,"n":100`;
const tail = (pad: number) => "," + JSON.stringify({ ...STATE, pad: "x".repeat(pad) }).slice(1);
const TAIL = tail(Math.max(0, cfg.snapshotBytes - (SAMPLE_HEAD + tail(0)).length));
const publishHead = (uid: string) => `{"kind":"publish_telescope_snapshot","telescope_uid":"${uid}","snapshot":`;

// ---- latency histogram (10 µs buckets up to 5 s) -----------------------------------------------------------------
const hist = new Histogram(500_000);

// ---- measurement state -------------------------------------------------------------------------------------------
let m0 = Infinity; // measurement window [m0, m1) on the shared clock (epoch-like ms)
let m1 = Infinity;
let stopped = false; // the publishers stopped at m1; closing = the run is over, closes are expected
let closing = false;
let receivedInWindow = 0;
let receivedOfWindow = 0;
let receivedLocal = 0;
let receivedCross = 0;
let reads = 0;
let frameBytes = 0;
let lastFrameAt = 0;
/** The hub each telescope index publishes to (for the local/cross split). */
const hubOfTelescope = new Map<number, number>();

function onFrame(viewerHub: number, sentAt: number, n: number, bytes: number, now: number): void {
  lastFrameAt = now;
  if (sentAt >= m0 && sentAt < m1) receivedOfWindow++;
  if (now >= m0 && now < m1) {
    receivedInWindow++;
    frameBytes = bytes;
    hist.add(now - sentAt);
    if (hubOfTelescope.get(n) === viewerHub) receivedLocal++;
    else receivedCross++;
  }
}

// ---- viewers: minimal WebSocket clients over Bun.connect (bench/raw-receiver.ts) -------------------------------
// (With 250 viewers × 500 frames/s in one process, Bun's WebSocket client alone would set the pace.)
const PREFIX_NEED = 220; // payload bytes needed to find sent_at_ms and n
// Every frame has the same head up to the telescope uid, so sent_at_ms is where it was last time.
const sentAtFinder = new PatternFinder(new TextEncoder().encode('"sent_at_ms":'), PREFIX_NEED);
const num = new NumberReader();
const C_COLON = 58;

function snapshot(viewerHub: number, buf: Uint8Array, from: number, to: number, len: number, now: number): void {
  let i = sentAtFinder.find(buf, from, to);
  if (i < 0) fail(`unexpected frame: ${Buffer.from(buf.subarray(from, Math.min(to, from + 300))).toString()}`);
  const t = num.read(buf, i);
  // ,"n":123
  i = num.end + 1;
  while (buf[i] !== C_COLON) i++;
  const n = num.read(buf, i + 1);
  onFrame(viewerHub, t, n, len, now);
}

// ---- SkyNodes: one ordinary Bun WebSocket each (a few publishes a second, nothing received) ----------------------
interface Publisher {
  n: number;
  uid: string;
  head: string;
  ws: WebSocket;
  phase: number;
}
const publishers: Publisher[] = [];
const viewers: RawReceiver[] = [];

async function setup(): Promise<number> {
  const start = performance.now();
  cfg.telescopeHubs.forEach((hub, i) => hubOfTelescope.set(i + 1, hub));
  // The SkyNodes first (so that the viewers' subscriptions see no retained state they would have to skip: they ask
  // for none anyway), 25 connections at a time.
  for (let i = 0; i < cfg.skynodes.length; i += 25) {
    const batch = await Promise.all(
      cfg.skynodes.slice(i, i + 25).map(async (s) => {
        const ws = await connectSender(`${cfg.hubs[s.hub]}/v1/ws/stream?token=${s.token}`, `SkyNode ${s.uid}`, () => closing);
        return { n: s.n, uid: s.uid, head: publishHead(s.uid), ws, phase: s.phase };
      }),
    );
    publishers.push(...batch);
  }
  const subscribeMsg = JSON.stringify({
    kind: "subscribe_stream",
    subscription_id: SUBSCRIPTION,
    streams: ["telescope_snapshot"],
    options: { include_existing: false },
  });
  for (let i = 0; i < cfg.viewers.length; i += 25) {
    const batch = await Promise.all(
      cfg.viewers.slice(i, i + 25).map(async (hub) => {
        const v = new RawReceiver(new URL(`${cfg.hubs[hub]}/v1/ws/stream?token=${cfg.viewerTokens[hub]}`), {
          what: `viewer (hub ${hub})`,
          subscribeMsg,
          handshake: subscriptionAck(SUBSCRIPTION),
          prefixNeed: PREFIX_NEED,
          clock,
          onRead: (now) => {
            if (now >= m0 && now < m1) reads++;
          },
          onFrame: (buf, from, to, len, now) => snapshot(hub, buf, from, to, len, now),
          over: () => closing,
          fail,
        });
        await v.connect();
        return v;
      }),
    );
    viewers.push(...batch);
  }
  return performance.now() - start;
}

async function run(startAt: number, connectMs: number): Promise<HubClientResult> {
  const goReceivedAt = clock();
  m0 = startAt + cfg.warmupMs;
  m1 = m0 + cfg.measureMs;
  const period = 1000 / cfg.hz;
  // Due times: publisher p's k-th publish at startAt + (k + phase_p) × period; phases spread all SkyNodes of the run
  // (over every client process) evenly over one period.
  const order = [...publishers].sort((a, b) => a.phase - b.phase);
  let k = 0; // period index
  let idx = 0; // next publisher in `order` within period k
  let publishedInWindow = 0;
  let publishedTotal = 0;
  let plannedInWindow = 0;
  let late = 0;
  let lagMax = 0;
  const cpu0 = process.cpuUsage();
  while (!stopped) {
    const p = order[idx]!;
    const due = startAt + (k + p.phase) * period;
    if (due >= m1) break;
    const wait = due - clock();
    if (wait > 0.25) await sleep(wait);
    // Send everything that is due now (a timer wakes up late by a ms or so: those go together).
    for (;;) {
      const q = order[idx]!;
      const dueQ = startAt + (k + q.phase) * period;
      const now = clock();
      if (dueQ > now + 0.25 || dueQ >= m1) break;
      const lag = now - dueQ;
      if (lag > 10) late++;
      if (lag > lagMax) lagMax = lag;
      q.ws.send(`${q.head}{"sent_at_ms":${now.toFixed(3)},"n":${q.n}${TAIL}}`);
      publishedTotal++;
      if (dueQ >= m0) plannedInWindow++;
      if (now >= m0 && now < m1) publishedInWindow++;
      if (++idx === order.length) {
        idx = 0;
        k++;
      }
    }
  }
  stopped = true;
  // Drain: until no frame for 500 ms (at most 5 s).
  const drainEnd = clock() + 5000;
  while (clock() < drainEnd && clock() - Math.max(lastFrameAt, m1) < 500) await sleep(20);
  const cpu = process.cpuUsage(cpu0);
  const histogram = hist.sparse();
  return {
    event: "result",
    client: cfg.client,
    skynodes: publishers.length,
    viewers: viewers.length,
    published_in_window: publishedInWindow,
    published_total: publishedTotal,
    planned_in_window: plannedInWindow,
    publish_late: late,
    publish_lag_max_ms: Math.round(lagMax * 1000) / 1000,
    received_in_window: receivedInWindow,
    received_of_window_publishes: receivedOfWindow,
    received_local: receivedLocal,
    received_cross: receivedCross,
    histogram,
    max_ms: Math.round(hist.max * 1000) / 1000,
    frame_bytes: frameBytes,
    frames_per_read: Math.round((receivedInWindow / Math.max(1, reads)) * 100) / 100,
    connect_ms: Math.round(connectMs),
    client_cpu_s: Math.round(((cpu.user + cpu.system) / 1e6) * 1000) / 1000,
    go_received_at: goReceivedAt,
  };
}

void serveRunner(setup, (arg, connectMs) => run(Number(arg), connectMs), () => {
  closing = true;
  for (const p of publishers) p.ws.close();
  for (const v of viewers) v.close();
});
