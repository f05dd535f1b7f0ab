// A round of the fan-out benchmarks (bench/run.ts: bare Bun.serve vs skynode; bench/groups.ts: /v3/ws group vs
// /v1/ws/stream), runner side: a fresh server, one load process (bench/fanout-client.ts or bench/groups-client.ts,
// both speaking bench/load-process.ts' protocol with the measure_start/measure_end and paced_start/paced_end events),
// the server's RSS and CPU (and the load process' and everyone else's CPU) around its saturated and paced phases;
// and the summary of a series of rounds.
import type { LatencySummary } from "./load-process";
import type { LoadKnobs } from "./windowed-load";
import { cpuSeconds, loadEvents, machineBusySeconds, median, r1, r3, rssMb, sleep, spawn, stopProc, tell, type Proc } from "./procs";

/** What both load processes' result events carry (and what the summary reads). */
export interface LoadResult {
  deliveries: number;
  deliveries_per_s: number;
  saturated: LatencySummary;
  paced: LatencySummary & { rate_per_s: number; deliveries: number; expected: number };
  client_cpu_pct: number;
  frames_per_read: number;
  frame_bytes: number;
}

export interface RoundFigures<R extends LoadResult> {
  rss_idle_mb: number;
  rss_connected_mb: number;
  rss_peak_mb: number;
  /** Only with `rssAfterLoad`: 300 ms after the result, the subscribers still connected. */
  rss_after_load_mb: number;
  server_cpu_pct: number;
  server_cpu_us_per_delivery: number;
  /** The load process' CPU over the interval, from /proc. */
  load_cpu_pct: number;
  /** CPU used during the interval by processes other than this server and the load process: other sessions' work. */
  other_cpu_pct: number;
  paced_server_cpu_pct: number;
  paced_server_cpu_us_per_delivery: number;
  result: R;
}

/** The load process' knobs from a bench's PARAMS (seconds there, as in the results file). */
export function loadKnobs(p: { window: number; batch: number; warmup_s: number; duration_s: number; paced_rate_per_s: number; paced_s: number }): LoadKnobs {
  return {
    window: p.window,
    batch: p.batch,
    warmupMs: p.warmup_s * 1000,
    durationMs: p.duration_s * 1000,
    pacedRate: p.paced_rate_per_s,
    pacedMs: p.paced_s * 1000,
  };
}

export interface RoundSpec {
  /** Names the round in error messages ("skynode", "v3"). */
  what: string;
  script: string;
  cfg: object;
  durationS: number;
  pacedS: number;
  /** How long the load process may drain after each phase before its next event (its own give-up time, + 15 s). */
  drainMs: number;
  rssAfterLoad: boolean;
}

export async function loadRound<R extends LoadResult>(server: { proc: Proc; stderr: () => string }, spec: RoundSpec): Promise<RoundFigures<R>> {
  try {
    await sleep(1000); // settle: JIT, lazy module init, GC
    const pid = server.proc.pid;
    const rssIdle = rssMb(pid);
    const client = spawn([process.execPath, spec.script, JSON.stringify(spec.cfg)], "pipe");
    const expect = loadEvents(client, `load client (${spec.what})`, () => server.stderr().slice(-2000));
    await expect("ready", 30_000);
    await sleep(200);
    const rssConnected = rssMb(pid);
    let peak = rssConnected;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssMb(pid));
      } catch {}
    }, 100);
    tell(client, "go");
    let cpuS = 0;
    let clientS = 0;
    let other = 0;
    try {
      await expect("measure_start", 10_000);
      const cpu0 = cpuSeconds(pid);
      const client0 = cpuSeconds(client.pid);
      const machine0 = machineBusySeconds();
      await expect("measure_end", spec.durationS * 1000 + 10_000);
      cpuS = cpuSeconds(pid) - cpu0;
      clientS = cpuSeconds(client.pid) - client0;
      other = machineBusySeconds() - machine0 - cpuS - clientS;
    } finally {
      clearInterval(sampler);
    }
    // Paced phase: the same offered load on both sides of the comparison, so their CPU per delivery compares directly.
    await expect("paced_start", spec.drainMs + 15_000);
    const pacedCpu0 = cpuSeconds(pid);
    const pacedEnd = await expect<{ elapsed_ms: number }>("paced_end", spec.pacedS * 1000 + spec.drainMs + 15_000);
    const pacedCpu = cpuSeconds(pid) - pacedCpu0;
    const result = await expect<R>("result", 30_000);
    let rssAfter = 0;
    if (spec.rssAfterLoad) {
      await sleep(300);
      rssAfter = rssMb(pid);
      peak = Math.max(peak, rssAfter);
    }
    tell(client, "close");
    await Promise.race([client.exited, sleep(3000)]);
    client.kill("SIGKILL");
    if (result.deliveries === 0) throw new Error(`no deliveries on ${spec.what}`);
    return {
      rss_idle_mb: rssIdle,
      rss_connected_mb: rssConnected,
      rss_peak_mb: peak,
      rss_after_load_mb: rssAfter,
      server_cpu_pct: r1((cpuS / spec.durationS) * 100),
      server_cpu_us_per_delivery: r3((cpuS / result.deliveries) * 1e6),
      load_cpu_pct: r1((clientS / spec.durationS) * 100),
      other_cpu_pct: Math.max(0, r1((other / spec.durationS) * 100)),
      paced_server_cpu_pct: r1((pacedCpu / (pacedEnd.elapsed_ms / 1000)) * 100),
      paced_server_cpu_us_per_delivery: r3((pacedCpu / Math.max(1, result.paced.deliveries)) * 1e6),
      result,
    };
  } finally {
    await stopProc(server.proc);
  }
}

/** A series of rounds of one side: the best round's deliveries/s (outside interference only ever slows a round down;
 * in the fan-out bench the load process sets the pace, too), and medians of the rest. `rate` names the per-receiver
 * rate (snapshots_per_s, messages_per_s) that goes with the best round; `clientCpu` is the load process' CPU; `m`
 * (the median of a figure over the rounds) is for what a bench adds. */
export function summarizeRounds<K extends string, R extends LoadResult & Record<K, number>>(
  rs: RoundFigures<R>[],
  rate: K,
  clientCpu: (r: RoundFigures<R>) => number,
) {
  const m = (f: (r: RoundFigures<R>) => number) => median(rs.map(f));
  const best = rs.reduce((a, b) => (b.result.deliveries_per_s > a.result.deliveries_per_s ? b : a));
  const figures = {
    deliveries_per_s: best.result.deliveries_per_s,
    deliveries_per_s_median: Math.round(m((r) => r.result.deliveries_per_s)),
    ...({ [rate]: best.result[rate] } as unknown as Record<K, number>),
    p50_ms: r3(m((r) => r.result.saturated.p50_ms)),
    p99_ms: r3(m((r) => r.result.saturated.p99_ms)),
    paced_p50_ms: r3(m((r) => r.result.paced.p50_ms)),
    paced_p99_ms: r3(m((r) => r.result.paced.p99_ms)),
    rss_idle_mb: r1(m((r) => r.rss_idle_mb)),
    rss_loaded_mb: r1(m((r) => r.rss_peak_mb)),
    server_cpu_pct: r1(m((r) => r.server_cpu_pct)),
    server_cpu_us_per_delivery: r3(m((r) => r.server_cpu_us_per_delivery)),
    paced_server_cpu_pct: r1(m((r) => r.paced_server_cpu_pct)),
    paced_server_cpu_us_per_delivery: r3(m((r) => r.paced_server_cpu_us_per_delivery)),
    client_cpu_pct: r1(m(clientCpu)),
    frames_per_read: r1(m((r) => r.result.frames_per_read)),
    frame_bytes: rs[0]!.result.frame_bytes,
  };
  return { figures, m };
}
