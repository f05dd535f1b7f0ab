// `bun bench/soak.ts` (also run by `bun run bench` as its soak part; see bench/README.md): one appliance process
// (`bun app/main.ts serve`, simulated telescope, default limits: frame rate, quotas, depth) under a steady, paced
// load from a separate load process (bench/soak-client.ts): ~200 clients on /v1/ws/stream, /v1/ws/commands, /wss and
// /v3/ws that subscribe and unsubscribe, reconnect storms, an operator holding the lease and moving the mount,
// focuser and filter wheel and taking short exposures, and direct requests (image.fetch, image.list, log.export).
// A warm-up run, then the measured run, each followed by a pause with every load socket closed. Sampled over time:
// the server's RSS and open fds (/proc), its CPU, event-loop lag (a probe client's ping→pong round trip on an
// otherwise idle /v1/ws/stream connection, and /healthz's event_loop_lag_ms), and errors (the load process counts
// every unexpected error frame, failed command, unexpected close and failed fetch; the probe and /healthz add theirs).
// Figures: RSS growth per hour from a least-squares line over the measured run (with its 95 % interval), RSS and fds
// idle before and after the measured run, lag p50/p99/max, errors. Goals (RSS flat: < 1 MB/h; fd growth 0; errors 0)
// are reported with whether they are met, never asserted: the exit code is 1 only when the bench itself fails.
// Writes bench/results/soak.json (every sample series, the fit, goals, met).
// Knobs: SOAK_DURATION_S (measured run, 180), SOAK_WARMUP_S (60), SOAK_SAMPLE_S (2), SOAK_CLIENTS (200),
// SOAK_STORM_EVERY_S (30), SOAK_STORM_FRACTION (0.5), SOAK_SETTLE_S (20). For a long soak run it alone, e.g.
// `SOAK_DURATION_S=14400 bun bench/soak.ts` (4 h).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken } from "../app/auth/principal";
import { loadSigningKey } from "../app/auth/signing-key";
import { FAST_SIM } from "../test/helpers/operator";
import { cpuSeconds, drainStderr, finish, guard, lines, onCleanup, r1, r3, resultsHead, ROOT, rssMb, sleep, spawn, startListening, stopProc, tell, tempDirs, writeResults, type Proc } from "./procs";
import type { SoakClientConfig } from "./soak-client";

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const CLIENTS = env("SOAK_CLIENTS", 200);
const PARAMS = {
  warmup_s: env("SOAK_WARMUP_S", 60),
  duration_s: env("SOAK_DURATION_S", 180),
  sample_s: env("SOAK_SAMPLE_S", 2),
  settle_s: env("SOAK_SETTLE_S", 20),
  probe_interval_ms: 200,
  clients: {
    stream: Math.round(CLIENTS * 0.4),
    commands: Math.round(CLIENTS * 0.2),
    wss: Math.round(CLIENTS * 0.2),
    v3: CLIENTS - Math.round(CLIENTS * 0.4) - 2 * Math.round(CLIENTS * 0.2),
  },
  direct_requesters: 4,
  wss_publishers: 10,
  v3_groups: 4,
  periods: {
    churn_s: 10,
    direct_s: 8,
    log_export_s: 30,
    wss_publish_s: 1,
    v3_message_s: 5,
    heartbeat_s: 30,
    storm_every_s: env("SOAK_STORM_EVERY_S", 30),
    lease_cycle_s: 600,
  },
  storm_fraction: env("SOAK_STORM_FRACTION", 0.5),
  exposure_s: 0.1,
};
const GOALS = { rss_growth_max_mb_per_h: 1, fd_growth_max: 0, errors_max: 0 };
const TELESCOPE = "sim-1";

// The telescope moves fast (test/helpers/operator.ts's FAST_SIM) so that the operator cycles often, with
// constraints re-evaluated at the default interval; images beyond 200 MB are deleted oldest first (an hours-long
// soak would otherwise fill the disk). Everything else, frame-rate and quota limits included, is the default.
const CONFIG = `${FAST_SIM.replace("interval_s = 0.2\n", "")}\n[images]\nmax_total_gb = 0.2\n`;

const watchdog = guard("bench/soak", (PARAMS.warmup_s + PARAMS.duration_s + 2 * PARAMS.settle_s + 240) * 1000);

// ---- the server ---------------------------------------------------------------------------------------------------

interface Server {
  proc: Proc;
  pid: number;
  port: number;
  dataDir: string;
  heapFile: string;
  stopping: boolean;
  stderr: () => string;
}

/** `apikey issue --name soak --data DIR` in its own process, as an operator would; its key (the output's last word). */
async function issueApiKey(dataDir: string): Promise<string> {
  const p = spawn([process.execPath, "app/main.ts", "apikey", "issue", "--name", "soak", "--data", dataDir]);
  const [out, err, code] = await Promise.all([
    new Response(p.stdout as ReadableStream<Uint8Array>).text(),
    new Response(p.stderr as ReadableStream<Uint8Array>).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`apikey issue failed (exit code ${code}): ${err.slice(-2000)}`);
  const key = out.trim().split(/\s+/).at(-1);
  if (!key) throw new Error(`apikey issue printed no key: ${JSON.stringify(out)}`);
  return key;
}

let serverDied: string | null = null;

/** Preloaded into the server process (written to its temp dir, `bun --preload`): its JS heap beside its RSS, every
 * sample, and on SIGUSR2 (sent only while the server is idle, between runs) a full collection followed by the heap's
 * live objects by type, so that idle-before and idle-after compare what is really retained. */
const heapProbe = (out: string, everyMs: number) => `
import { heapStats } from "bun:jsc";
import { appendFileSync } from "node:fs";
const out = ${JSON.stringify(out)};
const line = (o) => appendFileSync(out, JSON.stringify({ t: Date.now(), ...o }) + "\\n");
setInterval(() => {
  const m = process.memoryUsage();
  line({ kind: "usage", rss: m.rss, heap_used: m.heapUsed, heap_total: m.heapTotal, external: m.external, array_buffers: m.arrayBuffers });
}, ${everyMs}).unref();
process.on("SIGUSR2", () => {
  Bun.gc(true);
  const h = heapStats();
  const m = process.memoryUsage();
  line({ kind: "gc", rss: m.rss, heap_used: m.heapUsed, heap_size: h.heapSize, object_count: h.objectCount, types: h.objectTypeCounts });
});
`;

async function startServer(): Promise<Server & { apiKey: string; key: Uint8Array }> {
  const dataDir = mkdtempSync(join(tmpdir(), "skynode-bench-soak-"));
  tempDirs.push(dataDir);
  const configPath = join(dataDir, "soak.toml");
  writeFileSync(configPath, CONFIG);
  const key = loadSigningKey(dataDir); // created here, before the server reads it
  const apiKey = await issueApiKey(dataDir);
  const probePath = join(dataDir, "soak-heap-probe.mjs");
  const heapFile = join(dataDir, "soak-heap.ndjson");
  writeFileSync(probePath, heapProbe(heapFile, PARAMS.sample_s * 1000));
  const cmd = [process.execPath, "--preload", probePath, "app/main.ts", "serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir, "--config", configPath];
  const { proc, port, stderr } = await startListening(cmd, "appliance");
  const server = { proc, pid: proc.pid, port, dataDir, heapFile, stopping: false, stderr, apiKey, key };
  void proc.exited.then((code) => {
    if (!server.stopping) serverDied = `the server exited during the soak (code ${code}): ${stderr().slice(-1500)}`;
  });
  return server;
}

const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

type HeapLine = { t: number; kind: "usage" | "gc"; rss: number; heap_used: number; heap_total?: number; external?: number; heap_size?: number; object_count?: number; types?: Record<string, number> };
function heapLines(file: string): HeapLine[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as HeapLine);
  } catch {
    return [];
  }
}
const mb = (bytes: number) => r1(bytes / 1024 / 1024);

// ---- the probe: event-loop lag as a client sees it --------------------------------------------------------------------

/** A viewer on /v1/ws/stream with no subscription: a ping whenever the previous pong is back (and `intervalMs` has
 * passed); each round trip is recorded with its time. */
class LagProbe {
  readonly rtts: { t: number; ms: number }[] = [];
  errors = 0;
  readonly errorSamples: string[] = [];
  private ws: WebSocket | null = null;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly intervalMs: number,
  ) {}

  async start(): Promise<void> {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("lag probe: could not connect"));
    });
    ws.onclose = (e) => {
      if (!this.stopped) this.fail(`probe socket closed by the server: ${e.code} ${e.reason}`);
    };
    void this.loop();
  }

  private fail(what: string): void {
    this.errors++;
    if (this.errorSamples.length < 20) this.errorSamples.push(`${new Date().toISOString()} ${what}`);
  }

  private async loop(): Promise<void> {
    let n = 0;
    while (!this.stopped && this.ws?.readyState === WebSocket.OPEN) {
      const id = `lag-${++n}`;
      const t0 = performance.now();
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        this.ws!.onmessage = (e) => {
          const f = JSON.parse(String(e.data)) as { kind: string; id?: string };
          if (f.kind === "pong" && f.id === id) {
            clearTimeout(timer);
            resolve(true);
          } else this.fail(`probe got ${String(e.data).slice(0, 200)}`);
        };
        this.ws!.send(JSON.stringify({ kind: "ping", id }));
      });
      const ms = performance.now() - t0;
      if (!ok) this.fail(`no pong within 10 s`);
      else this.rtts.push({ t: performance.now(), ms });
      await sleep(Math.max(0, this.intervalMs - ms));
    }
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close();
  }
}

onCleanup(() => probe?.stop());
let probe: LagProbe | null = null;

// ---- statistics --------------------------------------------------------------------------------------------------------

const quantile = (xs: number[], q: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

/** Least-squares line y = a + b·x with the 95 % interval of the slope (Student t, n − 2 degrees of freedom). RSS
 * samples a few seconds apart are not independent (the heap's sawtooth spans several): the standard error is widened
 * by the residuals' lag-1 autocorrelation ρ, as for an AR(1) series (effective n = n·(1 − ρ)/(1 + ρ)). */
function linearFit(xs: number[], ys: number[]) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const residual = Math.max(0, syy - slope * sxy);
  const res = xs.map((x, i) => ys[i]! - (intercept + slope * x));
  let num = 0;
  for (let i = 1; i < n; i++) num += res[i]! * res[i - 1]!;
  const den = res.reduce((a, r) => a + r * r, 0);
  const rho = den > 0 ? Math.max(0, Math.min(0.99, num / den)) : 0;
  const nEff = Math.max(3, (n * (1 - rho)) / (1 + rho));
  const se = n > 2 ? Math.sqrt(residual / (n - 2) / sxx) * Math.sqrt((n - 2) / Math.max(1, nEff - 2)) : NaN;
  // t(0.975, df) from a small table (1.98 beyond 120).
  const df = nEff - 2;
  const t = df >= 120 ? 1.98 : df >= 60 ? 2.0 : df >= 30 ? 2.04 : df >= 20 ? 2.09 : df >= 10 ? 2.23 : df >= 5 ? 2.57 : df >= 3 ? 3.18 : 4.3;
  return { n, slope, intercept, slope_ci95: t * se, r2: syy > 0 ? (slope * sxy) / syy : 0, residual_lag1_autocorrelation: rho, effective_n: nEff };
}

// ---- the run ----------------------------------------------------------------------------------------------------------

interface Sample {
  t_s: number;
  phase: "warmup" | "measure";
  rss_mb: number;
  fds: number;
  cpu_pct: number;
  probe_p50_ms: number;
  probe_max_ms: number;
  healthz_lag_ms: number | null;
  healthz_ms: number;
  open_sockets: number | null;
  load_errors: number;
  heap_used_mb: number | null;
  external_mb: number | null;
}

interface Progress {
  event?: string;
  open?: number;
  ops?: Record<string, number>;
  errors?: Record<string, number>;
}
interface LoadResult extends Progress {
  seconds: number;
  connect_ms: number;
  storm_ms: number[];
  error_samples: string[];
}

const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const started = performance.now();
  const server = await startServer();
  const ttlSec = PARAMS.warmup_s + PARAMS.duration_s + 3600;
  const token = (sub: string, role: "viewer" | "operator") => issueToken(server.key, { sub, role, ttlSec });
  const ws = `ws://127.0.0.1:${server.port}`;
  const http = `http://127.0.0.1:${server.port}`;
  let healthzErrors = 0;
  const healthzErrorSamples: string[] = [];

  await sleep(2000);
  const idleStart = { rss_mb: rssMb(server.pid), fds: fdsOf(server.pid) };
  probe = new LagProbe(`${ws}/v1/ws/stream?token=${token("soak-probe", "viewer")}`, PARAMS.probe_interval_ms);
  await probe.start();

  const cfg: SoakClientConfig = {
    ws,
    telescope: TELESCOPE,
    tokens: {
      viewer: token("soak-viewer", "viewer"),
      operator: token("soak-operator", "operator"),
      wssOperator: token("soak-wss-operator", "operator"),
      v3: Array.from({ length: PARAMS.clients.v3 }, (_, i) => token(`soak-m${i}`, "viewer")),
    },
    apiKey: server.apiKey,
    counts: PARAMS.clients,
    directRequesters: PARAMS.direct_requesters,
    wssPublishers: PARAMS.wss_publishers,
    v3Groups: PARAMS.v3_groups,
    periods: PARAMS.periods,
    stormFraction: PARAMS.storm_fraction,
    exposureS: PARAMS.exposure_s,
    progressEveryS: PARAMS.sample_s,
    answerTimeoutMs: 10_000,
    commandTimeoutMs: 60_000,
  };
  const load = spawn([process.execPath, "bench/soak-client.ts", JSON.stringify(cfg)], "pipe");
  onCleanup(() => load.kill("SIGTERM"));
  const loadStderr = drainStderr(load);
  const next = lines(load, "soak load process");
  let latest: Progress = {};
  /** The load process' next event of `event`, keeping its progress lines as they come. */
  async function awaitEvent<T extends Progress>(event: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await next(Math.max(1, deadline - Date.now()));
      if (line === null) throw new Error(`soak load process exited (expected ${event}): ${loadStderr()}`);
      if (!line.startsWith("{")) continue;
      const msg = JSON.parse(line) as Progress & { message?: string };
      if (msg.event === "error") throw new Error(`soak load process: ${msg.message}\n${server.stderr().slice(-1500)}`);
      if (msg.event === "progress") latest = msg;
      if (msg.event === event) return msg as T;
    }
  }
  await awaitEvent("ready", 20_000);

  const samples: Sample[] = [];
  let phaseStart = performance.now();
  let phase: Sample["phase"] = "warmup";
  let lastCpu = cpuSeconds(server.pid);
  let lastAt = performance.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(PARAMS.sample_s * 1000);
      if (!sampling || serverDied) break;
      const now = performance.now();
      const window = probe!.rtts.filter((r) => r.t > now - PARAMS.sample_s * 1000).map((r) => r.ms);
      const h0 = performance.now();
      let healthzLag: number | null = null;
      try {
        const res = await fetch(`${http}/healthz`, { signal: AbortSignal.timeout(10_000) });
        const body = (await res.json()) as { status?: string; event_loop_lag_ms?: number };
        if (res.status !== 200 || body.status !== "ok") throw new Error(`${res.status} ${JSON.stringify(body)}`);
        healthzLag = typeof body.event_loop_lag_ms === "number" ? body.event_loop_lag_ms : null;
      } catch (err) {
        healthzErrors++;
        if (healthzErrorSamples.length < 20) healthzErrorSamples.push(`${new Date().toISOString()} /healthz: ${(err as Error).message}`);
      }
      const cpu = cpuSeconds(server.pid);
      const at = performance.now();
      const lastUsage = heapLines(server.heapFile).findLast((l) => l.kind === "usage");
      samples.push({
        t_s: r1((now - phaseStart) / 1000),
        phase,
        rss_mb: rssMb(server.pid),
        fds: fdsOf(server.pid),
        cpu_pct: r1(((cpu - lastCpu) / ((at - lastAt) / 1000)) * 100),
        probe_p50_ms: r3(quantile(window, 0.5)),
        probe_max_ms: r3(Math.max(...window, 0)),
        healthz_lag_ms: healthzLag,
        healthz_ms: r3(at - h0),
        open_sockets: latest.open ?? null,
        load_errors: sum(latest.errors),
        heap_used_mb: lastUsage ? mb(lastUsage.heap_used) : null,
        external_mb: lastUsage?.external !== undefined ? mb(lastUsage.external) : null,
      });
      lastCpu = cpu;
      lastAt = at;
    }
  })();

  const runLoad = async (seconds: number): Promise<LoadResult> => {
    latest = {};
    tell(load, `go ${seconds}`);
    return await awaitEvent<LoadResult>("result", (seconds + 120) * 1000);
  };
  // Garbage of the run just closed is collected (and its pages returned) some seconds later, not at once: the idle
  // figure is the least RSS of the settle's second half, sampled each second.
  // Then a full collection (the preloaded heap probe, on SIGUSR2): the live heap by object type, and RSS after it.
  const idle = async () => {
    const rss: number[] = [];
    for (let s = 0; s < PARAMS.settle_s; s++) {
      await sleep(1000);
      if (s >= PARAMS.settle_s / 2) rss.push(rssMb(server.pid));
    }
    const before = heapLines(server.heapFile).filter((l) => l.kind === "gc").length;
    process.kill(server.pid, "SIGUSR2");
    let gc: HeapLine | undefined;
    for (let i = 0; i < 100 && !gc; i++) {
      await sleep(100);
      gc = heapLines(server.heapFile).filter((l) => l.kind === "gc")[before];
    }
    await sleep(1000);
    return { rss_mb: Math.min(...rss), rss_after_gc_mb: rssMb(server.pid), fds: fdsOf(server.pid), gc };
  };

  console.error(`  soak: warm-up ${PARAMS.warmup_s} s with ${CLIENTS} clients…`);
  const warmup = await runLoad(PARAMS.warmup_s);
  const idleBefore = await idle();
  console.error(`  soak: measuring ${PARAMS.duration_s} s (idle before: ${idleBefore.rss_mb} MB, ${idleBefore.fds} fds)…`);
  const probeFrom = performance.now();
  phase = "measure";
  phaseStart = performance.now();
  const measured = await runLoad(PARAMS.duration_s);
  const probeTo = performance.now();
  const idleAfter = await idle();
  sampling = false;
  await sampler;
  probe.stop();
  tell(load, "close");
  await Promise.race([load.exited, sleep(5000)]);
  if (serverDied) throw new Error(serverDied);
  server.stopping = true;
  const t0 = performance.now();
  await stopProc(server.proc, 15_000);
  const exitCode = await server.proc.exited;
  const stopMs = Math.round(performance.now() - t0);

  // ---- figures ----
  const m = samples.filter((s) => s.phase === "measure");
  const fit = linearFit(
    m.map((s) => s.t_s),
    m.map((s) => s.rss_mb),
  );
  const mbPerH = fit.slope * 3600;
  const ciPerH = fit.slope_ci95 * 3600;
  const fdFit = linearFit(
    m.map((s) => s.t_s),
    m.map((s) => s.fds),
  );
  const rtts = probe.rtts.filter((r) => r.t >= probeFrom && r.t <= probeTo).map((r) => r.ms);
  const healthzLags = m.map((s) => s.healthz_lag_ms).filter((x): x is number => x !== null);
  const heapFit = linearFit(
    m.filter((s) => s.heap_used_mb !== null).map((s) => s.t_s),
    m.filter((s) => s.heap_used_mb !== null).map((s) => s.heap_used_mb!),
  );
  const gcBefore = idleBefore.gc;
  const gcAfter = idleAfter.gc;
  const typeGrowth = gcBefore?.types && gcAfter?.types
    ? Object.entries(gcAfter.types)
        .map(([type, n]) => ({ type, before: gcBefore.types![type] ?? 0, after: n, growth: n - (gcBefore.types![type] ?? 0) }))
        .filter((x) => x.growth > 0)
        .sort((x, y) => y.growth - x.growth)
        .slice(0, 25)
    : [];
  const loadErrors = sum(measured.errors);
  const warmupErrors = sum(warmup.errors);
  const errorsTotal = loadErrors + warmupErrors + probe.errors + healthzErrors + (exitCode === 0 ? 0 : 1);
  const fdGrowth = idleAfter.fds - idleBefore.fds;
  const rssVerdict = mbPerH + ciPerH < GOALS.rss_growth_max_mb_per_h ? "met" : mbPerH - ciPerH > GOALS.rss_growth_max_mb_per_h ? "missed" : "inconclusive";

  const source = (() => {
    try {
      const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
      const dirty = execFileSync("git", ["status", "--porcelain", "--", "app", "hal"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
      return { commit, uncommitted_in_app_or_hal: dirty };
    } catch {
      return { commit: "unknown", uncommitted_in_app_or_hal: [] };
    }
  })();

  const out = {
    ...resultsHead("soak"),
    source,
    params: {
      ...PARAMS,
      server: "bun app/main.ts serve --port 0 --host 127.0.0.1 --data <tmp> --config <tmp>/soak.toml (appliance role: hub + built-in SkyNode on the simulated telescope sim-1)",
      config: CONFIG,
      load:
        "one load process (bench/soak-client.ts): /v1/ws/stream viewers churning subscribe/unsubscribe; /v1/ws/commands viewers churning subscribe_commands, a few making direct requests (image.fetch base64|binary, image.list, log.export); /wss viewers churning telemetry and user topics, operators publishing; /v3 members (several groups) sending group messages, heartbeats and echoes; one operator (not stormed) holding the lease and cycling mount.point, focuser.move_absolute, filter_wheel.set_option, camera.exposure.start and an image.fetch of that image; a reconnect storm every storm_every_s (storm_fraction of the churning clients closed at once, then all reconnected at once)",
      probe: `a viewer on /v1/ws/stream with no subscriptions in this process: ping, pong, wait ${PARAMS.probe_interval_ms} ms, again`,
    },
    goals: GOALS,
    met: { rss_growth: rssVerdict, fd_growth: fdGrowth <= GOALS.fd_growth_max, errors: errorsTotal <= GOALS.errors_max },
    rss: {
      growth_mb_per_h: r3(mbPerH),
      growth_ci95_mb_per_h: r3(ciPerH),
      fit: {
        over: "measure-phase samples",
        n: fit.n,
        slope_mb_per_s: fit.slope,
        intercept_mb: r3(fit.intercept),
        r2: r3(fit.r2),
        residual_lag1_autocorrelation: r3(fit.residual_lag1_autocorrelation),
        effective_n: r1(fit.effective_n),
      },
      start_idle_mb: idleStart.rss_mb,
      idle_before_mb: idleBefore.rss_mb,
      idle_after_mb: idleAfter.rss_mb,
      idle_growth_mb: r1(idleAfter.rss_mb - idleBefore.rss_mb),
      measure_min_mb: Math.min(...m.map((s) => s.rss_mb)),
      measure_max_mb: Math.max(...m.map((s) => s.rss_mb)),
    },
    heap: {
      js_heap_used_growth_mb_per_h: r3(heapFit.slope * 3600),
      js_heap_used_growth_ci95_mb_per_h: r3(heapFit.slope_ci95 * 3600),
      idle_before_after_full_gc: gcBefore ? { rss_mb: idleBefore.rss_after_gc_mb, heap_size_mb: mb(gcBefore.heap_size ?? 0), objects: gcBefore.object_count } : null,
      idle_after_after_full_gc: gcAfter ? { rss_mb: idleAfter.rss_after_gc_mb, heap_size_mb: mb(gcAfter.heap_size ?? 0), objects: gcAfter.object_count } : null,
      live_heap_growth_mb: gcBefore && gcAfter ? mb((gcAfter.heap_size ?? 0) - (gcBefore.heap_size ?? 0)) : null,
      live_objects_growth: gcBefore && gcAfter ? (gcAfter.object_count ?? 0) - (gcBefore.object_count ?? 0) : null,
      object_types_grown: typeGrowth,
    },
    fds: {
      start_idle: idleStart.fds,
      idle_before: idleBefore.fds,
      idle_after: idleAfter.fds,
      growth_idle: fdGrowth,
      measure_slope_per_h: r1(fdFit.slope * 3600),
      measure_min: Math.min(...m.map((s) => s.fds)),
      measure_max: Math.max(...m.map((s) => s.fds)),
    },
    lag: {
      probe_rtt: { samples: rtts.length, p50_ms: r3(quantile(rtts, 0.5)), p99_ms: r3(quantile(rtts, 0.99)), max_ms: r3(Math.max(...rtts)) },
      healthz_event_loop_lag_ms: healthzLags.length ? { samples: healthzLags.length, p50: r3(quantile(healthzLags, 0.5)), p99: r3(quantile(healthzLags, 0.99)), max: r3(Math.max(...healthzLags)) } : null,
    },
    cpu: { measure_mean_pct: r1(m.reduce((a, s) => a + s.cpu_pct, 0) / Math.max(1, m.length)), measure_max_pct: Math.max(...m.map((s) => s.cpu_pct)) },
    errors: {
      total: errorsTotal,
      measure: measured.errors ?? {},
      warmup: warmup.errors ?? {},
      probe: probe.errors,
      healthz: healthzErrors,
      server_exit_code: exitCode,
      samples: [...measured.error_samples, ...warmup.error_samples.map((s) => `warm-up: ${s}`), ...probe.errorSamples, ...healthzErrorSamples].slice(0, 60),
    },
    load: {
      measure: { ops: measured.ops, connect_ms: measured.connect_ms, storm_ms: measured.storm_ms },
      warmup: { ops: warmup.ops, connect_ms: warmup.connect_ms, storm_ms: warmup.storm_ms },
    },
    server_stop_ms: stopMs,
    notes: [
      "rss.growth_mb_per_h: slope of a least-squares line through the measure-phase VmRSS samples, × 3600; growth_ci95: its 95 % interval, widened for the samples' autocorrelation (fit.effective_n). met.rss_growth: 'met' when the whole interval is under the goal, 'missed' when it is all above, 'inconclusive' when it spans the goal (a short run cannot tell 1 MB/h from 0: run longer with SOAK_DURATION_S)",
      "a run of a few minutes mostly measures the heap and the allocator growing to their working size after start-up (the warm-up is short): its RSS slope overstates the long-run growth, and its interval is wide; what a leak would show at once is live JS objects growing after a full GC (heap.live_objects_growth, object_types_grown) against the reconnects and subscriptions of the run. For the RSS goal run SOAK_DURATION_S=1800 or longer",
      "idle_before/idle_after: the server with every load socket closed (only the probe connected) after the warm-up and after the measured run, the least VmRSS sampled each second over the second half of settle_s: the same state, so their difference is what the measured run left behind (or garbage not yet collected)",
      "fds.growth_idle: open fds (/proc/PID/fd) idle after minus idle before the measured run (goal 0); during the run the count follows the sockets open",
      "lag.probe_rtt: ping->pong round trips of a client with nothing else on its connection, during the measured run (includes loopback and this process' own scheduling); healthz_event_loop_lag_ms: the server's own figure at each sample",
      "errors: every error frame, answer, echo or result that did not come (timeouts), failed command (result not ok), close the load did not ask for, refused upgrade and direct response short of its total_size in the load process (warm-up and measured run), plus probe failures, /healthz failures and a non-zero server exit code",
      "heap: the server runs with a preloaded probe (written to its temp dir): process.memoryUsage() every sample (heap_used_mb, external_mb columns; js_heap_used_growth from a line through them), and at each idle point a full collection (Bun.gc(true)) then bun:jsc heapStats(): live heap size and objects by type after the collection, idle before vs idle after (object_types_grown: the types whose live count changed most)",
      "the server runs the working tree as it was (source.commit plus source.uncommitted_in_app_or_hal): other sessions edit this checkout",
    ],
    samples: {
      columns: ["t_s", "phase", "rss_mb", "fds", "cpu_pct", "probe_p50_ms", "probe_max_ms", "healthz_lag_ms", "healthz_ms", "open_sockets", "load_errors", "heap_used_mb", "external_mb"],
      rows: samples.map((s) => [s.t_s, s.phase, s.rss_mb, s.fds, s.cpu_pct, s.probe_p50_ms, s.probe_max_ms, s.healthz_lag_ms, s.healthz_ms, s.open_sockets, s.load_errors, s.heap_used_mb, s.external_mb]),
    },
    elapsed_s: r1((performance.now() - started) / 1000),
  };
  const file = writeResults("soak", out);
  const mark = (ok: boolean | string) => (ok === true || ok === "met" ? "ok" : ok === false ? "MISSED" : String(ok).toUpperCase());
  const ops = measured.ops ?? {};
  console.log(
    [
      `soak: ${CLIENTS} clients + operator for ${PARAMS.duration_s} s after a ${PARAMS.warmup_s} s warm-up, storms of ${Math.round(PARAMS.storm_fraction * 100)} % every ${PARAMS.periods.storm_every_s} s, bun ${Bun.version}, ${cpus().length} cpus`,
      `  rss: ${out.rss.growth_mb_per_h} ± ${out.rss.growth_ci95_mb_per_h} MB/h over the run (goal < ${GOALS.rss_growth_max_mb_per_h}: ${mark(rssVerdict)}); idle ${idleBefore.rss_mb} -> ${idleAfter.rss_mb} MB; during ${out.rss.measure_min_mb}-${out.rss.measure_max_mb} MB`,
      `  heap: JS heap used ${out.heap.js_heap_used_growth_mb_per_h} ± ${out.heap.js_heap_used_growth_ci95_mb_per_h} MB/h; after a full GC idle: live heap ${out.heap.idle_before_after_full_gc?.heap_size_mb ?? "-"} -> ${out.heap.idle_after_after_full_gc?.heap_size_mb ?? "-"} MB, ${out.heap.idle_before_after_full_gc?.objects ?? "-"} -> ${out.heap.idle_after_after_full_gc?.objects ?? "-"} objects, RSS ${idleBefore.rss_after_gc_mb} -> ${idleAfter.rss_after_gc_mb} MB` +
        (typeGrowth.length ? `; grown most: ${typeGrowth.slice(0, 6).map((x) => `${x.type} +${x.growth}`).join(", ")}` : ""),
      `  fds: idle ${idleBefore.fds} -> ${idleAfter.fds} (growth ${fdGrowth}, goal ${GOALS.fd_growth_max}: ${mark(out.met.fd_growth)}); during ${out.fds.measure_min}-${out.fds.measure_max}`,
      `  lag: probe p50/p99/max ${out.lag.probe_rtt.p50_ms}/${out.lag.probe_rtt.p99_ms}/${out.lag.probe_rtt.max_ms} ms; /healthz event_loop_lag_ms p50/max ${out.lag.healthz_event_loop_lag_ms?.p50 ?? "-"}/${out.lag.healthz_event_loop_lag_ms?.max ?? "-"}; server cpu ${out.cpu.measure_mean_pct}% mean`,
      `  errors: ${errorsTotal} (goal ${GOALS.errors_max}: ${mark(out.met.errors)}) measure ${JSON.stringify(measured.errors ?? {})} warm-up ${JSON.stringify(warmup.errors ?? {})} probe ${probe.errors} healthz ${healthzErrors} exit ${exitCode}`,
      `  load (measured run): ${ops.subscribe ?? 0} subscribes, ${ops.unsubscribe ?? 0} unsubscribes, ${ops.storms ?? 0} storms (${ops.storm_reconnects ?? 0} reconnects), ` +
        `${Object.entries(ops).filter(([k]) => k.startsWith("cmd_")).reduce((a, [, v]) => a + v, 0)} commands, ${(ops["direct_image.fetch"] ?? 0) + (ops.operator_fetch ?? 0)} image.fetch, ${ops["direct_image.list"] ?? 0} image.list, ${ops["direct_log.export"] ?? 0} log.export, ` +
        `${ops.stream_events ?? 0} stream events, ${ops.wss_messages ?? 0} /wss messages, ${ops.v3_group_messages ?? 0} /v3 group messages`,
      ...errorsSampleLines(out.errors.samples),
      `wrote ${file} in ${out.elapsed_s} s`,
    ].join("\n"),
  );
}

function errorsSampleLines(samples: string[]): string[] {
  return samples.slice(0, 8).map((s) => `  error: ${s.slice(0, 300)}`);
}

await finish("bench/soak", watchdog, main);
