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
import { connectSender, fail, serveRunner, startLoadProcess } from "./load-process";
import { RawReceiver, SeqTReader, subscriptionAck } from "./raw-receiver";
import { type LoadKnobs, WindowedLoad, type WindowedLoadFigures } from "./windowed-load";

export interface ClientConfig extends LoadKnobs {
  mode: "skynode" | "bare";
  pubUrl: string;
  subUrl: string;
  subscribers: number;
  payloadBytes: number; // target size of the frame a subscriber receives
}

export interface ClientResult extends Omit<WindowedLoadFigures, "per_receiver_per_s"> {
  event: "result";
  mode: ClientConfig["mode"];
  subscribers: number;
  snapshots_per_s: number;
  connect_ms: number;
}

const cfg = startLoadProcess<ClientConfig>(90_000);
const S = cfg.subscribers;
const TELESCOPE = "sim-1";
const SUBSCRIPTION = "dash";

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

// ---- load (bench/windowed-load.ts) ------------------------------------------------------------------------------
let publisher!: WebSocket;
const subs: RawReceiver[] = [];
const load = new WindowedLoad(
  { ...cfg, receivers: S },
  {
    clock: () => performance.now(),
    send: (seq, now) => publisher.send(frame(seq, now)),
    drainMs: 10_000,
    lossTimeoutMs: null,
    unit: "snapshots",
  },
);

// ---- subscribers: minimal WebSocket clients over Bun.connect (bench/raw-receiver.ts) -----------------------------
const PREFIX_NEED = 200; // payload bytes needed to find seq and t
const seqT = new SeqTReader(PREFIX_NEED);

function onFrame(buf: Uint8Array, from: number, to: number, len: number, now: number): void {
  if (!seqT.read(buf, from, to)) fail(`unexpected frame: ${Buffer.from(buf.subarray(from, Math.min(to, from + 300))).toString()}`);
  load.onMessage(seqT.seq, seqT.t, len, now);
}

async function setup(): Promise<number> {
  const start = performance.now();
  // The publisher is one ordinary Bun WebSocket: it sends a few thousand frames a second and receives none.
  publisher = await connectSender(cfg.pubUrl, "publisher", () => load.phase === "done");
  const subscribeMsg = JSON.stringify({
    kind: "subscribe_stream",
    subscription_id: SUBSCRIPTION,
    streams: ["telescope_snapshot"],
    filter: { telescope_uid: TELESCOPE },
  });
  const one = async () => {
    const sub = new RawReceiver(new URL(cfg.subUrl), {
      what: "subscriber",
      subscribeMsg: cfg.mode === "skynode" ? subscribeMsg : null,
      handshake: subscriptionAck(SUBSCRIPTION),
      prefixNeed: PREFIX_NEED,
      clock: () => performance.now(),
      onRead: (now) => load.onRead(now),
      onFrame,
      over: () => load.phase === "done",
      fail,
    });
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

async function run(connectMs: number): Promise<ClientResult> {
  const { per_receiver_per_s, ...figures } = await load.run();
  return { event: "result", mode: cfg.mode, subscribers: S, ...figures, snapshots_per_s: per_receiver_per_s, connect_ms: Math.round(connectMs) };
}

void serveRunner(setup, (_, connectMs) => run(connectMs), () => {
  load.phase = "done";
  publisher.close();
  for (const sub of subs) sub.close();
});
