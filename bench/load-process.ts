// What the bench load processes (bench/fanout-client.ts, bench/groups-client.ts, bench/hub-scale-client.ts) share:
// their side of the protocol with the runner (argv[2] = JSON config; stdout = one JSON object per line, `event` being
// ready | … | result | error; stdin "go[ ARG]" runs the load, "close" closes the sockets and exits, and so does EOF on
// stdin: a killed runner leaves no client behind), a latency histogram, and their sending sockets.
import { sleep } from "./procs";

export function emit(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

let failPrefix = "";

/** An error event for the runner, and exit 1. */
export function fail(message: string): never {
  emit({ event: "error", message: failPrefix + message });
  process.exit(1);
}

/** The process' config (argv[2]); arms the watchdog (exit 1 if no "close" comes within `watchdogMs`). `name`, if
 * given, names the process in its error messages. */
export function startLoadProcess<C>(watchdogMs: number, name?: (cfg: C) => string): C {
  const cfg = JSON.parse(Bun.argv[2] ?? "{}") as C;
  if (name) failPrefix = `${name(cfg)}: `;
  setTimeout(() => fail(`client watchdog: no 'close' within ${watchdogMs / 1000} s`), watchdogMs).unref();
  return cfg;
}

/** Once `setup` has connected everything: "ready" (with connect_ms), then the runner's lines until "close". `go`
 * gets what follows "go " and returns the result event; `close` closes the sockets. */
export async function serveRunner(
  setup: () => Promise<number>,
  go: (arg: string, connectMs: number) => Promise<object>,
  close: () => void,
): Promise<void> {
  try {
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
        if (line === "go" || line.startsWith("go ")) emit(await go(line.slice(3), connectMs));
        else if (line === "close") {
          close();
          await sleep(50);
          process.exit(0);
        }
      }
    }
  } catch (err) {
    fail((err as Error).message ?? String(err));
  }
}

export interface LatencySummary {
  samples: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** Latencies in 10 µs buckets up to buckets / 100 ms (anything longer in the last bucket). */
export class Histogram {
  readonly counts: Uint32Array;
  n = 0;
  max = 0;

  constructor(private readonly buckets: number) {
    this.counts = new Uint32Array(buckets + 1);
  }

  add(ms: number): void {
    const b = Math.max(0, Math.floor(ms * 100));
    this.counts[b < this.buckets ? b : this.buckets]!++;
    this.n++;
    if (ms > this.max) this.max = ms;
  }

  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const target = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i <= this.buckets; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return (i + 0.5) / 100;
    }
    return this.max;
  }

  summary(): LatencySummary {
    const r = (x: number) => Math.round(x * 1000) / 1000;
    return { samples: this.n, p50_ms: r(this.quantile(0.5)), p99_ms: r(this.quantile(0.99)), max_ms: r(this.max) };
  }

  /** [bucket, count] of the buckets that have any (for merging several processes' histograms). */
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    for (let b = 0; b <= this.buckets; b++) if (this.counts[b]) out.push([b, this.counts[b]!]);
    return out;
  }
}

/** A sending socket: one ordinary Bun WebSocket (a few thousand frames a second at most). Its closing before the run
 * is over fails the process; so does any message it gets that `onMessage` does not take (returns false for). */
export function connectSender(
  url: string,
  what: string,
  over: () => boolean,
  onMessage: (text: string) => boolean = () => false,
): Promise<WebSocket> {
  const safe = `${what} (${url.replace(/(token|api_key|jwt)=[^&]+/g, "$1=…")})`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error(`timeout connecting ${safe}`)), 15_000);
    ws.onerror = () => reject(new Error(`websocket error on ${safe}`));
    ws.onclose = (ev) => {
      if (!over()) fail(`${what} socket closed during the run: ${ev.code} ${ev.reason}`);
    };
    ws.onmessage = (ev) => {
      const text = String(ev.data);
      if (!onMessage(text)) fail(`${what} got ${text.slice(0, 300)}`);
    };
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
  });
}
