// Load process of the group fan-out benchmark (bench/groups.ts): one sender and N receivers in one Bun process, on
// either path of the same server:
//   v3:     every socket on /v3/ws/group/bench/client/{id}?api_key=..&jwt=.. (seed 004); the sender sends
//           {"msg_type":"msg","target":"group","payload":{"seq","t","pad"}}, which reaches every receiver (and the
//           sender itself, a member too).
//   stream: the receivers subscribe on /v1/ws/stream (viewer token) to sim-1's telescope_snapshot, all with
//           subscription_id "dash" (as bench/fanout-client.ts); the sender is a `skynode` connection publishing
//           publish_telescope_snapshot with the same {"seq","t","pad"} object as the snapshot.
// Driven over stdin/stdout as bench/fanout-client.ts (bench/load-process.ts): argv[2] = JSON GroupsClientConfig;
// stdout = one JSON object per line, `event` being ready | measure_start | measure_end | paced_start | paced_end |
// result | error; stdin "go" starts the load, "close" closes the sockets and exits (so does EOF on stdin).
//
// Load (bench/windowed-load.ts, as in bench/fanout-client.ts): at most `window` messages in flight, where a message
// stops being in flight once every receiver has it (or, if one never arrives, after `lossTimeoutMs`: counted as
// lost), refilled in bursts of >= `batch`; then a paced phase at a fixed rate. Deliveries/s = bench messages received by all receivers inside the
// measurement interval / its length. Latency = receive time - `t` stamped by the sender (performance.timeOrigin +
// performance.now(), the clock every bench process agrees on). Receivers are minimal WebSocket clients over
// Bun.connect (bench/raw-receiver.ts) that read only the first bytes of each frame; v3 presence messages (joins of the
// later receivers and of the sender) are recognised and counted apart, never as deliveries.
import { connectSender, fail, serveRunner, startLoadProcess } from "./load-process";
import { sleep } from "./procs";
import { type Handshake, RawReceiver, SeqTReader, subscriptionAck } from "./raw-receiver";
import { type LoadKnobs, WindowedLoad, type WindowedLoadFigures } from "./windowed-load";
import { findAfter } from "./ws-frames";

export type GroupsPath = "v3" | "stream";

export interface GroupsClientConfig extends LoadKnobs {
  path: GroupsPath;
  senderUrl: string;
  /** Receiver i's URL: `{i}` replaced by its index. */
  receiverUrl: string;
  receivers: number;
  /** Target size of the frame a receiver gets (the pad is sized for the path's envelope). */
  frameBytes: number;
  lossTimeoutMs: number;
  /** v3: the group and the sender's client id (for sizing the pad: they are in every frame's envelope). */
  group: string;
  senderId: string;
}

export interface GroupsClientResult extends Omit<WindowedLoadFigures, "per_receiver_per_s"> {
  event: "result";
  path: GroupsPath;
  receivers: number;
  messages_per_s: number;
  connect_ms: number;
  /** v3: presence frames the receivers got (joins during setup), and the sender's own copies of its messages. */
  presence_frames: number;
  sender_echoes: number;
}

const cfg = startLoadProcess<GroupsClientConfig>(90_000);
const R = cfg.receivers;
const TELESCOPE = "sim-1";
const SUBSCRIPTION = "dash";

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

// ---- load (bench/windowed-load.ts) ------------------------------------------------------------------------------
let presenceFrames = 0;
let senderEchoes = 0;
let sender!: WebSocket;
const receivers: RawReceiver[] = [];
const load = new WindowedLoad(
  { ...cfg, receivers: R },
  {
    clock,
    send: (seq, now) => sender.send(message(seq, now)),
    drainMs: cfg.lossTimeoutMs + 5000,
    lossTimeoutMs: cfg.lossTimeoutMs,
    unit: "messages",
  },
);

// ---- receivers: minimal WebSocket clients over Bun.connect (bench/raw-receiver.ts) ------------------------------
const PRESENCE_PATTERN = new TextEncoder().encode('"msg_type":"presence"');
const SNAPSHOT_PATTERN = new TextEncoder().encode('"event":"snapshot"');
const PREFIX_NEED = 300; // payload bytes needed to find seq and t (after the v3 envelope's head)
const seqT = new SeqTReader(PREFIX_NEED);

function onFrame(buf: Uint8Array, from: number, to: number, len: number, now: number): void {
  if (!seqT.read(buf, from, to)) {
    const end = Math.min(to, from + PREFIX_NEED);
    if (cfg.path === "v3" && findAfter(buf, PRESENCE_PATTERN, from, end) >= 0) return void presenceFrames++;
    fail(`receiver got an unexpected frame: ${Buffer.from(buf.subarray(from, end)).toString()}`);
  }
  load.onMessage(seqT.seq, seqT.t, len, now);
}

/** stream: ready once the subscribe ack is in; v3: once the presence snapshot (the server's first message to a
 * member) is in. */
const handshake: Handshake =
  cfg.path === "stream"
    ? subscriptionAck(SUBSCRIPTION)
    : (_, payload) => {
        if (findAfter(payload, PRESENCE_PATTERN, 0, payload.length) < 0) return "unexpected";
        presenceFrames++;
        return findAfter(payload, SNAPSHOT_PATTERN, 0, payload.length) >= 0 ? "ready" : "skip";
      };

/** The sender is one ordinary Bun WebSocket (as the fan-out bench's publisher). On v3 it is a group member: it gets
 * each of its messages back, and the presence joins; an ERROR (target echo, cmd ERROR) fails the run. */
function senderGot(text: string): boolean {
  if (cfg.path !== "v3") return false;
  if (text.startsWith('{"version":"3","msg_type":"msg","target":"group"')) {
    senderEchoes++;
    return true;
  }
  return text.startsWith('{"version":"3","msg_type":"presence"');
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
    const r = new RawReceiver(new URL(cfg.receiverUrl.replace("{i}", String(i))), {
      what: "receiver",
      subscribeMsg,
      handshake,
      prefixNeed: PREFIX_NEED,
      clock,
      onRead: (now) => load.onRead(now),
      onFrame,
      over: () => load.phase === "done",
      fail,
    });
    await r.connect();
    return r;
  };
  for (let i = 0; i < R; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, R - i) }, (_, k) => one(i + k)));
    receivers.push(...batch);
  }
  sender = await connectSender(cfg.senderUrl, "sender", () => load.phase === "done", senderGot);
  // v3: let the joins (O(receivers²) presence frames) finish arriving before the load starts.
  let last = presenceFrames;
  for (let quiet = 0; cfg.path === "v3" && quiet < 4; ) {
    await sleep(50);
    quiet = presenceFrames === last ? quiet + 1 : 0;
    last = presenceFrames;
  }
  return performance.now() - start;
}

async function run(connectMs: number): Promise<GroupsClientResult> {
  const { per_receiver_per_s, ...figures } = await load.run();
  return {
    event: "result",
    path: cfg.path,
    receivers: R,
    ...figures,
    messages_per_s: per_receiver_per_s,
    connect_ms: Math.round(connectMs),
    presence_frames: presenceFrames,
    sender_echoes: senderEchoes,
  };
}

void serveRunner(setup, (_, connectMs) => run(connectMs), () => {
  load.phase = "done";
  sender.close();
  for (const r of receivers) r.close();
});
