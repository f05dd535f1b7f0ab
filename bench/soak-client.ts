// Load process of the soak benchmark (bench/soak.ts): ~200 clients on all four WebSocket endpoints of one appliance
// at a steady, paced load, and one operator holding the telescope's lease. argv[2] = JSON SoakClientConfig; stdout =
// one JSON object per line (`event` ready | progress | result | error, bench/load-process.ts); stdin: "go SECONDS"
// connects everything, runs the load for that long, closes every socket it opened and answers with a result;
// "close" exits (so does EOF on stdin: a killed runner leaves no client behind).
//
// What each client does, every period jittered ±50 % so that nothing beats in step:
//   /v1/ws/stream viewers   subscribe to a random set of sim-1's streams, then every `churn_s` unsubscribe and
//                           subscribe again under a new subscription id;
//   /v1/ws/commands viewers the same with subscribe_commands; a few of them also make direct requests one at a time
//                           (image.fetch of the latest image in base64 or binary, image.list, log.export: each answer
//                           reassembled and checked against its total_size);
//   /wss clients            viewers churn subscriptions to telemetry and user topics; operators publish on user topics;
//   /v3 members             in a few groups: a group message every `v3_message_s`, a heartbeat every `heartbeat_s`
//                           (echoed), an echo now and then;
//   the operator            (its own /v1/ws/commands socket, never part of a storm) holds the lease and cycles:
//                           mount.point, focuser.move_absolute, filter_wheel.set_option, a short exposure, an
//                           image.fetch of that image; it releases and re-acquires the lease every `lease_cycle_s`;
//   reconnect storms        every `storm_every_s` a random `storm_fraction` of the churning clients are closed at
//                           once and all reconnected at once (and resubscribed).
// Errors counted (the goal is 0): any error frame (kind error, direct_error, a /v3 cmd ERROR), an ack, answer or
// result that never came (timeout), a failed command (result not ok), a close this process did not ask for, an
// upgrade refused, a direct response whose bytes do not add up to its total_size.
import { emit, fail, startLoadProcess } from "./load-process";
import { sleep } from "./procs";

export interface SoakClientConfig {
  ws: string;
  telescope: string;
  tokens: { viewer: string; operator: string; wssOperator: string; v3: string[] };
  apiKey: string;
  counts: { stream: number; commands: number; wss: number; v3: number };
  /** Of the commands viewers, how many make direct requests; of the /wss clients, how many are publishing operators. */
  directRequesters: number;
  wssPublishers: number;
  v3Groups: number;
  periods: {
    churn_s: number;
    direct_s: number;
    log_export_s: number;
    wss_publish_s: number;
    v3_message_s: number;
    heartbeat_s: number;
    storm_every_s: number;
    lease_cycle_s: number;
  };
  stormFraction: number;
  exposureS: number;
  progressEveryS: number;
  answerTimeoutMs: number;
  commandTimeoutMs: number;
}

type Frame = Record<string, any>;

const cfg = startLoadProcess<SoakClientConfig>(48 * 3600_000);
const P = cfg.periods;
const STREAMS = ["telescope_snapshot", "device_snapshot", "instrument_snapshot", "telescope_log", "manual_control_lease", "constraint_status_snapshot", "shutdown_interlock_snapshot"];
const FILTERS = ["L", "R", "G", "B", "Ha"];

// ---- counters ------------------------------------------------------------------------------------------------------

const ops: Record<string, number> = {};
const errors: Record<string, number> = {};
const errorSamples: string[] = [];
const count = (what: string, n = 1) => void (ops[what] = (ops[what] ?? 0) + n);
function error(kind: string, detail: string): void {
  errors[kind] = (errors[kind] ?? 0) + 1;
  if (errorSamples.length < 50) errorSamples.push(`${new Date().toISOString()} ${kind}: ${detail.slice(0, 400)}`);
}
const snapshotCounters = () => ({ ops: { ...ops }, errors: { ...errors } });

/** True while `go` runs the load: the periodic actions stop once it is over. */
let running = false;
/** True while failures count (the load, and the operator's release at the end of it). */
let counting = false;
const jitter = (s: number) => s * 1000 * (0.5 + Math.random());
/** Repeats `fn` every ~`s` seconds (jittered) while the load runs. */
function every(s: number, fn: () => void | Promise<void>): void {
  const loop = async () => {
    while (running) {
      await sleep(jitter(s));
      if (!running) return;
      try {
        await fn();
      } catch (err) {
        error("client", (err as Error).message);
      }
    }
  };
  void loop();
}

// ---- a socket --------------------------------------------------------------------------------------------------------

let seq = 0;
const nextId = (p: string) => `${p}-${++seq}`;

/** One WebSocket with request/answer matching. `onFrame` sees every text frame first; `onBinary` every binary one.
 * `gen` counts its connections: a wait begun on one connection is not failed by the next one's silence. */
class Sock {
  ws: WebSocket | null = null;
  gen = 0;
  private closing = false;
  private waiters = new Map<string, { resolve: (f: Frame | null) => void; timer: ReturnType<typeof setTimeout> }>();
  /** Run once when the current connection closes (pending work on it is abandoned, not failed). */
  readonly onClose = new Set<() => void>();
  onFrame: (f: Frame) => void = () => {};
  onBinary: (b: Uint8Array) => void = () => {};

  constructor(
    readonly name: string,
    readonly url: string,
    /** Errors this socket's protocol expects as answers (none by default). */
    private readonly isError: (f: Frame) => boolean = (f) => f.kind === "error" || f.kind === "direct_error",
  ) {}

  connect(firstFrame?: (f: Frame) => boolean): Promise<void> {
    this.closing = false;
    this.gen++;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      let opened = false;
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: not connected within ${cfg.answerTimeoutMs} ms`));
        this.close();
      }, cfg.answerTimeoutMs);
      ws.onerror = () => {};
      ws.onopen = () => {
        opened = true;
        if (!firstFrame) {
          clearTimeout(timer);
          resolve();
        }
      };
      ws.onmessage = (e) => {
        if (typeof e.data !== "string") return this.onBinary(new Uint8Array(e.data as ArrayBuffer));
        const f = JSON.parse(e.data) as Frame;
        if (firstFrame && firstFrame(f)) {
          firstFrame = undefined;
          clearTimeout(timer);
          resolve();
        }
        if (this.isError(f)) error("error_frame", `${this.name}: ${e.data}`);
        const key = f.id ?? f.request_id;
        const w = key !== undefined ? this.waiters.get(key) : undefined;
        if (w) {
          this.waiters.delete(key);
          clearTimeout(w.timer);
          w.resolve(f);
        }
        this.onFrame(f);
      };
      ws.onclose = (e) => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearTimeout(timer);
        for (const [, w] of this.waiters) {
          clearTimeout(w.timer);
          w.resolve(null);
        }
        this.waiters.clear();
        for (const f of [...this.onClose]) f();
        this.onClose.clear();
        if (!opened) return reject(new Error(`${this.name}: upgrade refused or failed (${e.code} ${e.reason})`));
        if (!this.closing && counting) error("unexpected_close", `${this.name}: ${e.code} ${e.reason}`);
      };
    });
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(msg: object): void {
    if (this.open) this.ws!.send(JSON.stringify(msg));
  }

  /** Sends and resolves with the frame that echoes `key` (its `id`, or `request_id`), or null after the timeout. */
  request(msg: object, key: string, timeoutMs = cfg.answerTimeoutMs): Promise<Frame | null> {
    return new Promise((resolve) => {
      if (!this.open) return resolve(null);
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        if (counting && this.open) error("timeout", `${this.name}: no answer to ${JSON.stringify(msg).slice(0, 200)} within ${timeoutMs} ms`);
        resolve(null);
      }, timeoutMs);
      this.waiters.set(key, { resolve, timer });
      this.send(msg);
    });
  }

  close(): void {
    this.closing = true;
    this.ws?.close();
  }

  /** Closes and resolves once the close handshake is over. */
  closed(): Promise<void> {
    const ws = this.ws;
    if (!ws) return Promise.resolve();
    return new Promise((resolve) => {
      ws.addEventListener("close", () => resolve());
      this.close();
      setTimeout(resolve, 5000);
    });
  }
}

const v1Url = (path: string, token: string) => `${cfg.ws}${path}?token=${token}`;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;

/** A client that storms may drop: it knows how to connect and (re)establish its subscriptions. */
interface Churner {
  sock: Sock;
  /** Connects and sets up what the client holds (subscriptions, presence). */
  start(): Promise<void>;
}

// ---- /v1/ws/stream viewers -----------------------------------------------------------------------------------------

function streamViewer(i: number): Churner {
  const sock = new Sock(`stream-${i}`, v1Url("/v1/ws/stream", cfg.tokens.viewer));
  let current: string | null = null;
  sock.onFrame = (f) => {
    if (typeof f.kind === "string" && f.kind.startsWith("event_")) count("stream_events");
  };
  const subscribe = async () => {
    const id = nextId(`sv${i}`);
    const streams = STREAMS.filter(() => Math.random() < 0.5);
    const msg = { kind: "subscribe_stream", id, subscription_id: id, ...(streams.length ? { streams } : {}), filter: { telescope_uid: cfg.telescope } };
    const a = await sock.request(msg, id);
    if (a?.kind === "ack") {
      current = id;
      count("subscribe");
    }
  };
  const churn = async () => {
    if (!sock.open) return;
    if (current) {
      const a = await sock.request({ kind: "unsubscribe_stream", id: `u-${current}`, subscription_id: current }, `u-${current}`);
      if (a?.kind === "ack") count("unsubscribe");
      current = null;
    }
    await subscribe();
  };
  every(P.churn_s, churn);
  return {
    sock,
    start: async () => {
      current = null;
      await sock.connect();
      await subscribe();
    },
  };
}

// ---- /v1/ws/commands viewers (and direct requests) -------------------------------------------------------------------

/** Reassembles one direct response on a socket and checks its size. Resolves with the bytes received, or null. */
function directRequest(sock: Sock, request_type: string, payload: Record<string, unknown>, timeoutMs: number): Promise<number | null> {
  const request_id = nextId("dr");
  const gen = sock.gen;
  return new Promise((resolve) => {
    let total = -1;
    let got = 0;
    let binaryPending = 0;
    const prevFrame = sock.onFrame;
    const prevBinary = sock.onBinary;
    const done = (v: number | null) => {
      clearTimeout(timer);
      sock.onClose.delete(abandon);
      sock.onFrame = prevFrame;
      sock.onBinary = prevBinary;
      resolve(v);
    };
    const abandon = () => done(null);
    const timer = setTimeout(() => {
      if (counting && sock.gen === gen && sock.open) error("timeout", `${sock.name}: ${request_type} unfinished after ${timeoutMs} ms (${got}/${total} bytes)`);
      done(null);
    }, timeoutMs);
    sock.onClose.add(abandon);
    sock.onFrame = (f) => {
      prevFrame(f);
      if (f.request_id !== request_id) return;
      if (f.kind === "direct_response_start") total = f.total_size;
      else if (f.kind === "direct_response_chunk") {
        if (typeof f.data_b64 === "string") got += Buffer.from(f.data_b64, "base64").length;
        else binaryPending++;
      } else if (f.kind === "direct_response_end") {
        if (got !== total) error("failed_fetch", `${sock.name}: ${request_type} ended with ${got} of ${total} bytes`);
        done(got === total ? got : null);
      } else if (f.kind === "direct_error" || f.kind === "error") done(null);
    };
    // A binary chunk follows its header at once on the same socket (DESIGN.md §3).
    sock.onBinary = (b) => {
      if (binaryPending > 0) {
        binaryPending--;
        got += b.length;
      } else prevBinary(b);
    };
    sock.send({ kind: "direct_request", request_id, telescope_uid: cfg.telescope, request_type, payload });
  });
}

/** Whether the operator has made an image yet (image.fetch of the latest before the first would be not_found). */
let imagesExist = false;

function commandsViewer(i: number, requester: boolean): Churner {
  const sock = new Sock(`commands-${i}`, v1Url("/v1/ws/commands", cfg.tokens.viewer));
  let current: string | null = null;
  let busy = false;
  sock.onFrame = (f) => {
    if (f.kind === "event_command" || f.kind === "event_command_result") count("command_events");
  };
  const subscribe = async () => {
    const id = nextId(`cv${i}`);
    const a = await sock.request({ kind: "subscribe_commands", id, subscription_id: id, filter: { telescope_uid: cfg.telescope } }, id);
    if (a?.kind === "ack") {
      current = id;
      count("subscribe");
    }
  };
  every(P.churn_s, async () => {
    if (!sock.open) return;
    if (current) {
      const a = await sock.request({ kind: "unsubscribe_commands", id: `u-${current}`, subscription_id: current }, `u-${current}`);
      if (a?.kind === "ack") count("unsubscribe");
      current = null;
    }
    await subscribe();
  });
  if (requester) {
    const run = async (type: string, payload: Record<string, unknown>) => {
      if (!sock.open || busy || !imagesExist) return;
      busy = true;
      const bytes = await directRequest(sock, type, payload, 60_000);
      busy = false;
      if (bytes !== null) {
        count(`direct_${type}`);
        count("direct_bytes", bytes);
      }
    };
    every(P.direct_s, () => run(pick(["image.fetch", "image.fetch", "image.list"]), Math.random() < 0.5 ? { accept: ["binary"] } : {}));
    if (i === 0) every(P.log_export_s, () => run("log.export", {}));
  }
  return {
    sock,
    start: async () => {
      current = null;
      busy = false;
      await sock.connect();
      await subscribe();
    },
  };
}

// ---- /wss -------------------------------------------------------------------------------------------------------------

function wssClient(i: number, publisher: boolean): Churner {
  const sock = new Sock(`wss-${i}`, v1Url("/wss", publisher ? cfg.tokens.wssOperator : cfg.tokens.viewer));
  const topics = [`telescope_snapshot/${cfg.telescope}`, `telescope_log/${cfg.telescope}`, "soak/room-0", "soak/room-1", "soak/room-2", `soak/own-${i}`];
  const held = new Set<string>();
  sock.onFrame = (f) => {
    if (f.kind === "message") count("wss_messages");
  };
  const subscribe = async (topic: string) => {
    const id = nextId(`ws${i}`);
    const a = await sock.request({ action: "subscribe", topic, id }, id);
    if (a?.kind === "ack") {
      held.add(topic);
      count("subscribe");
    }
  };
  every(P.churn_s, async () => {
    if (!sock.open) return;
    const topic = pick(topics);
    if (held.has(topic)) {
      const id = nextId(`wu${i}`);
      const a = await sock.request({ action: "unsubscribe", topic, id }, id);
      if (a?.kind === "ack") count("unsubscribe");
      held.delete(topic);
    } else await subscribe(topic);
  });
  if (publisher) {
    let n = 0;
    every(P.wss_publish_s, async () => {
      if (!sock.open) return;
      const id = nextId(`wp${i}`);
      const a = await sock.request({ action: "publish", topic: `soak/room-${i % 3}`, id, data: { name: "chat", type: "text", data: { n: ++n, from: i } } }, id);
      if (a?.kind === "ack") count("wss_publish");
    });
  }
  return {
    sock,
    start: async () => {
      held.clear();
      await sock.connect();
      for (const t of topics.slice(0, 1 + (i % 3))) await subscribe(t);
    },
  };
}

// ---- /v3 --------------------------------------------------------------------------------------------------------------

function v3Member(i: number): Churner {
  const group = `soak-g${i % cfg.v3Groups}`;
  const client = `soak-m${i}`;
  const url = `${cfg.ws}/v3/ws/group/${group}/client/${client}?api_key=${encodeURIComponent(cfg.apiKey)}&jwt=${cfg.tokens.v3[i]}`;
  const sock = new Sock(client, url, (f) => f.cmd === "ERROR");
  const echoes = new Map<string, (f: Frame) => void>();
  sock.onFrame = (f) => {
    if (f.msg_type === "msg" && f.target === "group") count("v3_group_messages");
    else if (f.msg_type === "presence") count("v3_presence");
    if (f.target === "echo" && typeof f.msg === "string" && f.cmd !== "ERROR") {
      echoes.get(f.msg)?.(f);
      echoes.delete(f.msg);
    }
  };
  /** Sends a frame the server echoes to the sender (a heartbeat, an echo), tagged by `msg`; waits for the echo. */
  const echoed = (msg: Record<string, unknown>, what: string) =>
    new Promise<void>((resolve) => {
      const tag = nextId(`v3${i}`);
      const gen = sock.gen;
      const timer = setTimeout(() => {
        echoes.delete(tag);
        if (counting && sock.gen === gen && sock.open) error("timeout", `${client}: no echo of its ${what} within ${cfg.answerTimeoutMs} ms`);
        resolve();
      }, cfg.answerTimeoutMs);
      echoes.set(tag, () => {
        clearTimeout(timer);
        count(what);
        resolve();
      });
      sock.send({ ...msg, msg: tag });
    });
  let n = 0;
  every(P.v3_message_s, () => {
    if (!sock.open) return;
    sock.send({ msg_type: "msg", target: "group", cmd: "note", payload: { n: ++n, from: client } });
    count("v3_sent");
  });
  every(P.heartbeat_s, () => (sock.open ? echoed({ msg_type: "heartbeat", target: "echo" }, "v3_heartbeat") : undefined));
  every(P.heartbeat_s, () => (sock.open ? echoed({ msg_type: "msg", target: "echo", payload: { i } }, "v3_echo") : undefined));
  return {
    sock,
    // Its presence snapshot says the connection is registered.
    start: () => sock.connect((f) => f.msg_type === "presence" && f.payload?.event === "snapshot"),
  };
}

// ---- the operator -------------------------------------------------------------------------------------------------------

const operator = new Sock("operator", v1Url("/v1/ws/commands", cfg.tokens.operator));
const results = new Map<string, (r: Frame) => void>();
operator.onFrame = (f) => {
  if (f.kind !== "event_command_result") return;
  const r = f.result;
  results.get(r.command_id)?.(r);
  results.delete(r.command_id);
};

/** Publishes a command and waits for its result; null (and an error counted) if refused, failed or timed out. */
async function command(command: Record<string, unknown>): Promise<Frame | null> {
  const command_id = nextId(`op-${process.pid}`);
  const result = new Promise<Frame | null>((resolve) => {
    const timer = setTimeout(() => {
      results.delete(command_id);
      if (counting) error("timeout", `operator: no result of ${command.command_type} within ${cfg.commandTimeoutMs} ms`);
      resolve(null);
    }, cfg.commandTimeoutMs);
    results.set(command_id, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
  });
  const ack = await operator.request({ kind: "publish_command", id: command_id, telescope_uid: cfg.telescope, command_id, command }, command_id);
  if (ack?.kind !== "ack") {
    // Refused (an error frame, already counted) or unanswered (a timeout, counted): no result will come.
    results.get(command_id)?.({ status: "refused" } as Frame);
    results.delete(command_id);
    return null;
  }
  const r = await result;
  if (r && r.status !== "ok") {
    error("failed_command", `${command.command_type}: ${JSON.stringify(r).slice(0, 300)}`);
    return null;
  }
  if (r) count(`cmd_${command.command_type}`);
  return r;
}

let leaseId: string | null = null;
async function acquire(): Promise<void> {
  // Longer than the cycle after which it is released: the lease never lapses under a command.
  const r = await command({ command_type: "manual_control_lease.acquire", duration_s: P.lease_cycle_s + 300, purpose: "soak" });
  leaseId = r?.data?.lease_id ?? null;
}
async function release(): Promise<void> {
  if (leaseId) await command({ command_type: "manual_control_lease.release", lease_id: leaseId });
  leaseId = null;
}

async function operatorLoop(): Promise<void> {
  let lastLease = Date.now();
  while (running) {
    if (!leaseId || Date.now() - lastLease > P.lease_cycle_s * 1000) {
      await release();
      await acquire();
      lastLease = Date.now();
      if (!leaseId) {
        await sleep(1000);
        continue;
      }
    }
    await command({ command_type: "mount.point", target: { type: "horizontal", alt_deg: 30 + Math.random() * 40, az_deg: Math.random() * 359 } });
    if (!running) break;
    await command({ command_type: "focuser.move_absolute", position_um: Math.round(1000 + Math.random() * 40_000) });
    if (!running) break;
    await command({ command_type: "filter_wheel.set_option", filter_wheel_position_id: pick(FILTERS) });
    if (!running) break;
    const shot = await command({ command_type: "camera.exposure.start", duration_s: cfg.exposureS, binning: 2 });
    const imageId = shot?.data?.image_id;
    if (!imageId || !running) continue;
    imagesExist = true;
    const bytes = await directRequest(operator, "image.fetch", { image_id: imageId, ...(Math.random() < 0.5 ? { accept: ["binary"] } : {}) }, 60_000);
    if (bytes !== null) {
      count("operator_fetch");
      count("direct_bytes", bytes);
    }
  }
}

// ---- the run --------------------------------------------------------------------------------------------------------

const churners: Churner[] = [];
function build(): void {
  const c = cfg.counts;
  for (let i = 0; i < c.stream; i++) churners.push(streamViewer(i));
  for (let i = 0; i < c.commands; i++) churners.push(commandsViewer(i, i < cfg.directRequesters));
  for (let i = 0; i < c.wss; i++) churners.push(wssClient(i, i < cfg.wssPublishers));
  for (let i = 0; i < c.v3; i++) churners.push(v3Member(i));
}

/** (Re)connects clients, all at once. A refused or failed upgrade is an error. */
async function startAll(cs: Churner[]): Promise<void> {
  const outcomes = await Promise.allSettled(cs.map((c) => c.start()));
  for (const o of outcomes) if (o.status === "rejected") error("connect", (o.reason as Error).message);
}

async function storm(): Promise<void> {
  const victims = churners.filter((c) => c.sock.open && Math.random() < cfg.stormFraction);
  const t0 = performance.now();
  await Promise.all(victims.map((c) => c.sock.closed()));
  await startAll(victims);
  count("storms");
  count("storm_reconnects", victims.length);
  stormMs.push(Math.round(performance.now() - t0));
}
const stormMs: number[] = [];

async function go(seconds: number): Promise<object> {
  running = true;
  counting = true;
  for (const k of Object.keys(ops)) delete ops[k];
  for (const k of Object.keys(errors)) delete errors[k];
  errorSamples.length = 0;
  stormMs.length = 0;
  const t0 = performance.now();
  // Fresh clients each run: the periodic actions of a client live as long as the run that armed them.
  churners.length = 0;
  build();
  await operator.connect();
  await operator.request({ kind: "subscribe_commands", id: "op-sub", subscription_id: "op", filter: { telescope_uid: cfg.telescope } }, "op-sub");
  await startAll(churners);
  const connectMs = Math.round(performance.now() - t0);
  const progress = setInterval(() => emit({ event: "progress", t_s: Math.round((performance.now() - t0) / 100) / 10, open: churners.filter((c) => c.sock.open).length, ...snapshotCounters() }), cfg.progressEveryS * 1000);
  const storms = (async () => {
    while (running) {
      await sleep(P.storm_every_s * 1000);
      if (running) await storm();
    }
  })();
  const work = operatorLoop();
  await sleep(Math.max(0, seconds * 1000 - (performance.now() - t0)));
  running = false;
  clearInterval(progress);
  await Promise.race([Promise.all([work, storms]), sleep(cfg.commandTimeoutMs + 5000)]);
  // The lease is given back while the operator is still connected; what fails after that is not the load's.
  await release();
  counting = false;
  await Promise.all([...churners.map((c) => c.sock.closed()), operator.closed()]);
  return { event: "result", seconds, connect_ms: connectMs, storm_ms: stormMs, ...snapshotCounters(), error_samples: errorSamples };
}

async function main(): Promise<void> {
  emit({ event: "ready" });
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
      if (line.startsWith("go ")) emit(await go(Number(line.slice(3)))); else if (line === "close") process.exit(0);
    }
  }
}

main().catch((err) => fail((err as Error).stack ?? String(err)));
