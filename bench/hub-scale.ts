// `bun run bench`, hub scale part (bench/README.md): a `--role hub` process with 100 simulated SkyNodes publishing
// ~300-byte telescope snapshots at 5 Hz and 500 viewers subscribed to every telescope (250 k deliveries/s offered),
// all on loopback: deliveries/s, publish→receive latency, hub RSS and CPU. Then two hub instances sharing a Redis
// backplane (`[backplane] redis_url`), half the SkyNodes and half the viewers on each, against the one instance, as a
// ratio of deliveries/s. The load runs in BENCH_CLIENTS (2) processes (bench/hub-scale-client.ts). Goals (p99 < 50 ms,
// ratio >= 0.5) are reported, never asserted: the exit code is 1 only on errors. Writes bench/results/hub-scale.json.
// Knobs: BENCH_SKYNODES (100), BENCH_VIEWERS (500), BENCH_HZ (5), BENCH_CLIENTS (2), BENCH_WARMUP_S (2),
// BENCH_MEASURE_S (8), BENCH_SNAPSHOT_BYTES (300), BENCH_HUB_ROUNDS (2: one, two, one, two; each mode's headline is
// its least disturbed round), BENCH_HUB_ONLY=one|two (one mode only, no results file).
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient } from "bun";
import { issueToken } from "../app/auth/principal";
import { loadSigningKey } from "../app/auth/signing-key";
import { launchRedis, type TestRedis } from "../test/helpers/redis";
import type { HubClientConfig, HubClientResult } from "./hub-scale-client";
import { cpuSeconds, finish, guard, loadEvents, machineBusySeconds, noisyWarning, onCleanup, r1, r3, resultsHead, rssMb, sleep, spawn, startListening, stopProc, tell, tempDirs, writeResults, type Proc } from "./procs";

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const PARAMS = {
  skynodes: env("BENCH_SKYNODES", 100),
  viewers: env("BENCH_VIEWERS", 500),
  hz: env("BENCH_HZ", 5),
  clients: env("BENCH_CLIENTS", 2),
  warmup_s: env("BENCH_WARMUP_S", 2),
  measure_s: env("BENCH_MEASURE_S", 8),
  snapshot_bytes: env("BENCH_SNAPSHOT_BYTES", 300),
  rounds: env("BENCH_HUB_ROUNDS", 2),
  settle_s: 1,
};
const OFFERED = PARAMS.skynodes * PARAMS.hz * PARAMS.viewers;
const ONLY = process.env.BENCH_HUB_ONLY as "one" | "two" | undefined;
if (ONLY !== undefined && ONLY !== "one" && ONLY !== "two") throw new Error("BENCH_HUB_ONLY is one or two");
const GOALS = { p99_max_ms: 50, ratio_two_vs_one_min: 0.5 };
const TOKEN_TTL_S = 3600;

const clients: Proc[] = [];
onCleanup(() => {
  for (const c of clients) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
});
// A round of each mode ≈ 12 + 14 s; 2 rounds ≈ 1 min.
const watchdog = guard("bench/hub-scale", 180_000);

/** The clock of the run, in every process (bench/hub-scale-client.ts): wall-clock ms with sub-ms precision, consistent
 * across processes (not process.hrtime, which in Bun counts from the process' start). */
const clock = () => performance.timeOrigin + performance.now();
const sleepUntil = async (t: number) => {
  while (clock() < t) await sleep(Math.max(1, t - clock()));
};

interface Hub {
  proc: Proc;
  port: number;
  dataDir: string;
  stderr: () => string;
}

async function startHub(dataDir: string, configPath: string | null, what: string): Promise<Hub> {
  const cmd = [process.execPath, "app/main.ts", "serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir, "--role", "hub"];
  if (configPath) cmd.push("--config", configPath);
  return { ...(await startListening(cmd, what)), dataDir };
}

interface ProcFigures {
  rss_idle_mb: number;
  rss_connected_mb: number;
  rss_peak_mb: number;
  cpu_s: number;
  cpu_pct: number;
}

interface ModeResult {
  instances: number;
  backplane: string | null;
  offered_deliveries_per_s: number;
  deliveries_per_s: number;
  /** deliveries_per_s / offered_deliveries_per_s */
  offered_fraction: number;
  /** Frames received of the publishes sent in the window / (those publishes × viewers). */
  fraction_delivered: number;
  published_per_s: number;
  planned_per_s: number;
  publish_late: number;
  publish_lag_max_ms: number;
  latency: { samples: number; p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number };
  /** Deliveries inside the window from a SkyNode on the viewer's own instance, and from the other one. */
  deliveries_local_per_s: number;
  deliveries_cross_per_s: number;
  /** Cross-instance deliveries / what all-to-all delivery would give across instances, i.e. local deliveries ×
   * (instances - 1) with the SkyNodes spread evenly (1 = the backplane delivers everything; null with one instance). */
  cross_fraction: number | null;
  hubs: ProcFigures[];
  /** All hub instances' CPU over the window / deliveries in it. */
  hub_cpu_us_per_delivery: number;
  redis: ProcFigures | null;
  /** From INFO over the window: the hubs' connections to Redis, its pub/sub channels, commands and input per second. */
  redis_stats: { hub_connections: number; pubsub_channels: number; commands_per_s: number; input_kb_per_s: number } | null;
  clients: { cpu_pct: number; frames_per_read: number; connect_ms: number; skynodes: number; viewers: number }[];
  frame_bytes: number;
  other_cpu_pct: number;
}

/** INFO fields (numbers) of the Redis server, through `client`. */
async function redisInfo(client: RedisClient): Promise<Record<string, number>> {
  const text = String(await client.send("INFO", ["all"]));
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):(\d+(?:\.\d+)?)\r?$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function quantile(hist: Map<number, number>, n: number, q: number): number {
  const target = Math.ceil(q * n);
  let seen = 0;
  for (const b of [...hist.keys()].sort((a, c) => a - c)) {
    seen += hist.get(b)!;
    if (seen >= target) return r3((b + 0.5) / 100);
  }
  return NaN;
}

async function runMode(instances: number, redis: TestRedis | null): Promise<ModeResult> {
  const label = instances === 1 ? "one instance" : `${instances} instances`;
  // Data dirs: the first one's signing key (created here, before any hub starts) is copied into the others, so every
  // instance accepts the same tokens.
  const dirs = Array.from({ length: instances }, () => {
    const d = mkdtempSync(join(tmpdir(), "skynode-bench-hubscale-"));
    tempDirs.push(d);
    return d;
  });
  const key = loadSigningKey(dirs[0]!);
  for (const d of dirs.slice(1)) {
    copyFileSync(join(dirs[0]!, "signing.key"), join(d, "signing.key"));
    chmodSync(join(d, "signing.key"), 0o600);
  }
  let configText: string | null = null;
  if (redis) configText = `[backplane]\nredis_url = "${redis.url}"\n`;
  const hubs: Hub[] = [];
  try {
    for (let h = 0; h < instances; h++) {
      let configPath: string | null = null;
      if (configText) {
        configPath = join(dirs[h]!, "bench.toml");
        writeFileSync(configPath, configText);
      }
      hubs.push(await startHub(dirs[h]!, configPath, `hub ${h}`));
    }
    await sleep(PARAMS.settle_s * 1000); // settle: JIT, lazy module init, GC
    const idle = hubs.map((h) => rssMb(h.proc.pid));
    const redisIdle = redis ? rssMb(redis.proc.pid) : 0;

    // Who connects where: SkyNode i to hub i % instances, in client floor(i × clients / skynodes), phase i / skynodes
    // of the publishing period; viewer j likewise.
    const viewerTokens = hubs.map((_, h) => issueToken(key, { sub: `bench-viewer-${h}`, role: "viewer", ttlSec: TOKEN_TTL_S }));
    const cfgs: HubClientConfig[] = Array.from({ length: PARAMS.clients }, (_, c) => ({
      client: c,
      hubs: hubs.map((h) => `ws://127.0.0.1:${h.port}`),
      viewerTokens,
      skynodes: [],
      telescopeHubs: Array.from({ length: PARAMS.skynodes }, (_, i) => i % instances),
      viewers: [],
      hz: PARAMS.hz,
      snapshotBytes: PARAMS.snapshot_bytes,
      warmupMs: PARAMS.warmup_s * 1000,
      measureMs: PARAMS.measure_s * 1000,
    }));
    for (let i = 0; i < PARAMS.skynodes; i++) {
      const uid = `t${String(i + 1).padStart(3, "0")}`;
      const token = issueToken(key, { sub: `bench-skynode-${uid}`, role: "skynode", telescopes: [uid], ttlSec: TOKEN_TTL_S });
      cfgs[Math.floor((i * PARAMS.clients) / PARAMS.skynodes)]!.skynodes.push({ n: i + 1, uid, token, hub: i % instances, phase: i / PARAMS.skynodes });
    }
    for (let j = 0; j < PARAMS.viewers; j++) cfgs[Math.floor((j * PARAMS.clients) / PARAMS.viewers)]!.viewers.push(j % instances);

    const hubLogs = () => hubs.map((h, i) => `hub ${i}: ${h.stderr().slice(-1500)}`).join("\n");
    const procs = cfgs.map((cfg) => {
      const p = spawn([process.execPath, "bench/hub-scale-client.ts", JSON.stringify(cfg)], "pipe");
      clients.push(p);
      return { p, expect: loadEvents(p, `load client ${cfg.client} (${label})`, hubLogs) };
    });
    await Promise.all(procs.map((c) => c.expect("ready", 30_000)));
    await sleep(300);
    const connected = hubs.map((h) => rssMb(h.proc.pid));
    const redisConnected = redis ? rssMb(redis.proc.pid) : 0;
    // The bench's own connection for INFO (counted out of connected_clients below).
    const info = redis ? new RedisClient(redis.url, { connectionTimeout: 5000 }) : null;
    if (info) await info.connect();
    const peak = [...connected];
    let redisPeak = redisConnected;
    const sampler = setInterval(() => {
      hubs.forEach((h, i) => {
        try {
          peak[i] = Math.max(peak[i]!, rssMb(h.proc.pid));
        } catch {}
      });
      if (redis) {
        try {
          redisPeak = Math.max(redisPeak, rssMb(redis.proc.pid));
        } catch {}
      }
    }, 100);

    const goSentAt = clock();
    const startAt = goSentAt + 300;
    const m0 = startAt + PARAMS.warmup_s * 1000;
    const m1 = m0 + PARAMS.measure_s * 1000;
    for (const c of procs) tell(c.p, `go ${startAt}`);
    const results = Promise.all(procs.map((c) => c.expect<HubClientResult>("result", (m1 - clock()) + 30_000)));
    results.catch(() => {}); // awaited below; an early error still surfaces there
    let cpu: number[] = [];
    let clientCpu: number[] = [];
    let redisCpu = 0;
    let other = 0;
    let info0: Record<string, number> = {};
    let info1: Record<string, number> = {};
    try {
      await sleepUntil(m0);
      const cpu0 = hubs.map((h) => cpuSeconds(h.proc.pid));
      const client0 = procs.map((c) => cpuSeconds(c.p.pid));
      const redis0 = redis ? cpuSeconds(redis.proc.pid) : 0;
      const machine0 = machineBusySeconds();
      if (info) info0 = await redisInfo(info);
      await Promise.race([sleepUntil(m1), results]);
      if (info) info1 = await redisInfo(info);
      cpu = hubs.map((h, i) => cpuSeconds(h.proc.pid) - cpu0[i]!);
      clientCpu = procs.map((c, i) => cpuSeconds(c.p.pid) - client0[i]!);
      redisCpu = redis ? cpuSeconds(redis.proc.pid) - redis0 : 0;
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      other = machineBusySeconds() - machine0 - sum(cpu) - sum(clientCpu) - redisCpu;
    } finally {
      clearInterval(sampler);
      info?.close();
    }
    const rs = await results;
    for (const r of rs) {
      // The "go" line takes well under a millisecond through the pipe: anything else means the processes' clocks
      // disagree, and the windows (and latencies) would not line up.
      const d = r.go_received_at - goSentAt;
      if (d < -1 || d > 100) throw new Error(`load client ${r.client}: its clock is ${r3(d)} ms off the runner's at "go"`);
    }
    for (const c of procs) tell(c.p, "close");
    await Promise.all(procs.map((c) => Promise.race([c.p.exited, sleep(3000)])));
    for (const c of procs) c.p.kill("SIGKILL");

    const S = PARAMS.measure_s;
    const sum = (f: (r: HubClientResult) => number) => rs.reduce((a, r) => a + f(r), 0);
    const hist = new Map<number, number>();
    for (const r of rs) for (const [b, n] of r.histogram) hist.set(b, (hist.get(b) ?? 0) + n);
    const samples = sum((r) => r.received_in_window);
    const published = sum((r) => r.published_in_window);
    const local = sum((r) => r.received_local);
    const cross = sum((r) => r.received_cross);
    const fig = (idleMb: number, conn: number, pk: number, cpuS: number): ProcFigures => ({
      rss_idle_mb: idleMb,
      rss_connected_mb: conn,
      rss_peak_mb: pk,
      cpu_s: r3(cpuS),
      cpu_pct: r1((cpuS / S) * 100),
    });
    return {
      instances,
      backplane: redis ? redis.url : null,
      offered_deliveries_per_s: OFFERED,
      deliveries_per_s: Math.round(samples / S),
      offered_fraction: r3(samples / S / OFFERED),
      fraction_delivered: r3(sum((r) => r.received_of_window_publishes) / Math.max(1, published * PARAMS.viewers)),
      published_per_s: r1(published / S),
      planned_per_s: r1(sum((r) => r.planned_in_window) / S),
      publish_late: sum((r) => r.publish_late),
      publish_lag_max_ms: Math.max(...rs.map((r) => r.publish_lag_max_ms)),
      latency: {
        samples,
        p50_ms: quantile(hist, samples, 0.5),
        p90_ms: quantile(hist, samples, 0.9),
        p99_ms: quantile(hist, samples, 0.99),
        max_ms: Math.max(...rs.map((r) => r.max_ms)),
      },
      deliveries_local_per_s: Math.round(local / S),
      deliveries_cross_per_s: Math.round(cross / S),
      cross_fraction: instances === 1 ? null : r3(cross / Math.max(1, local * (instances - 1))),
      hubs: hubs.map((_, i) => fig(idle[i]!, connected[i]!, peak[i]!, cpu[i]!)),
      hub_cpu_us_per_delivery: r3((cpu.reduce((a, b) => a + b, 0) / Math.max(1, samples)) * 1e6),
      redis: redis ? fig(redisIdle, redisConnected, redisPeak, redisCpu) : null,
      redis_stats: redis
        ? {
            hub_connections: (info1.connected_clients ?? 0) - 1,
            pubsub_channels: info1.pubsub_channels ?? 0,
            // INFO itself is one command of the window.
            commands_per_s: Math.round(((info1.total_commands_processed ?? 0) - (info0.total_commands_processed ?? 0) - 1) / S),
            input_kb_per_s: r1(((info1.total_net_input_bytes ?? 0) - (info0.total_net_input_bytes ?? 0)) / 1024 / S),
          }
        : null,
      clients: rs.map((r, i) => ({
        cpu_pct: r1((clientCpu[i]! / S) * 100),
        frames_per_read: r.frames_per_read,
        connect_ms: r.connect_ms,
        skynodes: r.skynodes,
        viewers: r.viewers,
      })),
      frame_bytes: Math.max(...rs.map((r) => r.frame_bytes)),
      other_cpu_pct: Math.max(0, r1((other / S) * 100)),
    };
  } finally {
    await Promise.all(hubs.map((h) => stopProc(h.proc)));
  }
}

function describe(name: string, m: ModeResult): string {
  const hubs = m.hubs
    .map((h, i) => `hub ${i}: rss idle/connected/peak ${h.rss_idle_mb}/${h.rss_connected_mb}/${h.rss_peak_mb} MB, cpu ${h.cpu_pct}%`)
    .join("; ");
  const redis = m.redis
    ? `; redis: rss ${m.redis.rss_peak_mb} MB, cpu ${m.redis.cpu_pct}%, ${m.redis_stats?.commands_per_s} commands/s from ${m.redis_stats?.hub_connections} connections`
    : "";
  const clientsCpu = m.clients.map((c) => `${c.cpu_pct}%`).join(" ");
  return (
    `  ${name}: ${m.deliveries_per_s} deliveries/s of ${m.offered_deliveries_per_s} offered (delivered ${m.fraction_delivered}), ` +
    `p50/p99/max ${m.latency.p50_ms}/${m.latency.p99_ms}/${m.latency.max_ms} ms, published ${m.published_per_s}/s of ${m.planned_per_s}` +
    `${m.instances > 1 ? `, local/cross ${m.deliveries_local_per_s}/${m.deliveries_cross_per_s} per s` : ""}\n` +
    `    ${hubs} (${m.hub_cpu_us_per_delivery} µs/delivery)${redis}; load clients cpu ${clientsCpu}, frames/read ${m.clients.map((c) => c.frames_per_read).join(" ")}; other ${m.other_cpu_pct}%`
  );
}

/** The headline round of a mode: the one least disturbed by other processes on the machine (outside interference only
 * ever slows a round down). */
const leastDisturbed = (ms: ModeResult[]) => ms.reduce((a, b) => (b.other_cpu_pct < a.other_cpu_pct ? b : a));

async function main(): Promise<void> {
  const started = performance.now();
  const ones: ModeResult[] = [];
  const twos: ModeResult[] = [];
  let redis: TestRedis | null = null;
  let redisVersion = "";
  if (ONLY !== "one") {
    // One Redis for the run: the two-instance rounds' hubs are new each time, their channels go with them.
    redis = await launchRedis((cmd) => spawn(cmd));
    tempDirs.push(redis.dir);
    redisVersion = (await new Response(Bun.spawn(["redis-server", "--version"], { stdout: "pipe" }).stdout).text()).trim();
  }
  try {
    for (let i = 0; i < PARAMS.rounds; i++) {
      if (ONLY !== "two") {
        ones.push(await runMode(1, null));
        console.error(describe(`round ${i + 1} one instance`, ones.at(-1)!));
      }
      if (redis) {
        twos.push(await runMode(2, redis));
        console.error(describe(`round ${i + 1} two instances + redis`, twos.at(-1)!));
      }
    }
  } finally {
    await redis?.stop();
  }
  if (ones.length === 0 || twos.length === 0) {
    console.log("BENCH_HUB_ONLY: figures above; bench/results/hub-scale.json needs both modes and was not written");
    return;
  }
  const one = leastDisturbed(ones);
  const two = leastDisturbed(twos);
  const ratio = r3(two.deliveries_per_s / one.deliveries_per_s);
  const pairRatios = twos.map((t, i) => r3(t.deliveries_per_s / ones[i]!.deliveries_per_s));
  const met = {
    p99_one_instance: one.latency.p99_ms < GOALS.p99_max_ms,
    p99_two_instances: two.latency.p99_ms < GOALS.p99_max_ms,
    ratio_two_vs_one: ratio >= GOALS.ratio_two_vs_one_min,
  };
  const maxOther = Math.max(one.other_cpu_pct, two.other_cpu_pct);
  const head = resultsHead("hub-scale");
  const out = {
    ...head,
    machine: { ...head.machine, redis: redisVersion },
    params: {
      ...PARAMS,
      offered_publishes_per_s: PARAMS.skynodes * PARAMS.hz,
      offered_deliveries_per_s: OFFERED,
      servers: "bun app/main.ts serve --port 0 --host 127.0.0.1 --data <tmp> --role hub [--config <tmp>/bench.toml with [backplane] redis_url]",
      redis: "redis-server --port <free> --bind 127.0.0.1 --save '' --appendonly no --dir <tmp> (test/helpers/redis.ts)",
      load:
        "BENCH_CLIENTS load processes (bench/hub-scale-client.ts), each with its share of the SkyNodes (Bun WebSockets on /v1/ws/stream, skynode token for tNNN, publish_telescope_snapshot without id at `hz`, due times spread evenly over the period across all SkyNodes) and of the viewers (minimal WebSocket clients over Bun.connect, viewer token, subscribe_stream subscription_id fleet, streams [telescope_snapshot], no filter, include_existing false)",
      placement: "two instances: SkyNode i and viewer j connect to instance i % 2 and j % 2; every viewer should get every telescope's snapshots (cross-instance delivery is the backplane's)",
    },
    one_instance: one,
    two_instances: two,
    ratio_two_vs_one: ratio,
    ratio_two_vs_one_per_round_pair: pairRatios,
    goals: GOALS,
    goal_met: met,
    max_other_cpu_pct: maxOther,
    notes: [
      "the offered load is fixed (bounded): while both modes deliver everything, ratio_two_vs_one is ~1 and says that two instances over Redis keep up with what one does, not how far either could go; hub_cpu_us_per_delivery (all instances' CPU / deliveries) compares their cost",
      "one_instance / two_instances: each mode's least disturbed round (lowest other_cpu_pct) of `rounds` (one, two, one, two, ...; every round in `rounds` below); ratio_two_vs_one = their deliveries_per_s, ratio_two_vs_one_per_round_pair the same per round",
      "deliveries_per_s: snapshot frames received by all viewers during the measure_s window (after warmup_s), by receive time / measure_s; offered = skynodes × hz × viewers",
      "fraction_delivered: frames received (until the drain ends: 500 ms without a frame) of the publishes sent inside the window / (those publishes × viewers); below 1 = frames never delivered (dropped by backpressure, or, with two instances, not carried across the backplane)",
      "latency: receive time of the TCP read carrying the frame - the snapshot's sent_at_ms stamped at send, both performance.timeOrigin + performance.now() (the load processes agree to ~5 µs); 10 µs buckets merged over the load processes; includes each load process' own event-loop delay",
      "deliveries_local/cross_per_s (two instances): frames from a SkyNode on the viewer's own instance / on the other one; cross_fraction = cross deliveries / what all-to-all delivery across instances would give (1: the backplane delivers everything)",
      "hub rss: VmRSS 1 s after start (idle), with every client connected (connected), and the peak sampled every 100 ms under load; cpu: utime+stime over the window (% of one core); redis likewise",
      "the load processes share the machine with the hubs (params: cpus in machine): client cpu near 100% means they, not the hubs, set the pace; published_per_s below planned_per_s means their event loop was busy when a publish was due",
      "other_cpu_pct: CPU used during the window by processes other than the hubs, redis and the load processes (other sessions' work); a high value means noisy figures",
      "redis_stats: from INFO at the window's start and end: connected_clients less the bench's own, pubsub_channels, total_commands_processed and total_net_input_bytes per second",
    ],
    rounds: [...ones, ...twos].map((m, i) => ({
      instances: m.instances,
      round: (i % PARAMS.rounds) + 1,
      deliveries_per_s: m.deliveries_per_s,
      fraction_delivered: m.fraction_delivered,
      published_per_s: m.published_per_s,
      p50_ms: m.latency.p50_ms,
      p99_ms: m.latency.p99_ms,
      max_ms: m.latency.max_ms,
      cross_fraction: m.cross_fraction,
      hub_rss_peak_mb: m.hubs.map((h) => h.rss_peak_mb),
      hub_cpu_pct: m.hubs.map((h) => h.cpu_pct),
      hub_cpu_us_per_delivery: m.hub_cpu_us_per_delivery,
      client_cpu_pct: m.clients.map((c) => c.cpu_pct),
      other_cpu_pct: m.other_cpu_pct,
    })),
    elapsed_s: r1((performance.now() - started) / 1000),
  };
  const file = writeResults("hub-scale", out);

  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  const row = (name: string, m: ModeResult) =>
    `${name.padEnd(22)}${String(m.deliveries_per_s).padStart(10)}${String(m.fraction_delivered).padStart(10)}` +
    `${String(m.latency.p50_ms).padStart(9)}${String(m.latency.p99_ms).padStart(9)}${String(m.latency.max_ms).padStart(9)}` +
    `${m.hubs.map((h) => `${h.rss_idle_mb}/${h.rss_peak_mb}`).join(" ").padStart(24)}${m.hubs.map((h) => String(h.cpu_pct)).join(" ").padStart(14)}` +
    `${String(m.hub_cpu_us_per_delivery).padStart(10)}`;
  console.log(
    [
      `hub scale: ${PARAMS.skynodes} SkyNodes × ${PARAMS.hz} Hz -> ${PARAMS.viewers} viewers (${OFFERED} deliveries/s offered, ${one.frame_bytes}-byte frames), ` +
        `${PARAMS.measure_s} s window, ${PARAMS.clients} load processes, least disturbed of ${PARAMS.rounds} rounds each, bun ${Bun.version}, ${cpus().length} cpus`,
      `${"".padEnd(22)}${"deliv/s".padStart(10)}${"delivered".padStart(10)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"max ms".padStart(9)}` +
        `${"rss idle/peak MB".padStart(24)}${"cpu %".padStart(14)}${"µs/deliv".padStart(10)}`,
      row("one instance", one),
      row("two instances + redis", two),
      `two instances: local ${two.deliveries_local_per_s}/s, cross-instance ${two.deliveries_cross_per_s}/s (cross_fraction ${two.cross_fraction}); ` +
        `redis rss ${two.redis?.rss_peak_mb} MB, cpu ${two.redis?.cpu_pct}%, ${two.redis_stats?.commands_per_s} commands/s ` +
        `from ${two.redis_stats?.hub_connections} hub connections`,
      `p99 < ${GOALS.p99_max_ms} ms: one ${mark(met.p99_one_instance)}, two ${mark(met.p99_two_instances)}; ` +
        `ratio two/one ${ratio} (per round pair: ${pairRatios.join(", ")}) (goal >= ${GOALS.ratio_two_vs_one_min}: ${mark(met.ratio_two_vs_one)})`,
      ...noisyWarning(maxOther),
      `wrote ${file} in ${out.elapsed_s} s`,
    ].join("\n"),
  );
}

await finish("bench/hub-scale", watchdog, main);
