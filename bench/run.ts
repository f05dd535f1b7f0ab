// `bun run bench`: the fan-out benchmark (see bench/README.md). Alternates rounds against a bare Bun.serve baseline
// and the skynode hub, each round with a fresh server process and a fresh load process (bench/fanout-client.ts),
// and writes bench/results/fanout.json (best round's deliveries/s, medians of the rest, every round's figures).
// Dev knobs: BENCH_ROUNDS, BENCH_SUBSCRIBERS, BENCH_WINDOW, BENCH_BATCH, BENCH_ONLY=bare|skynode (rounds only, no file),
// BENCH_SKYNODE_EXEC=dist/skynode-linux-x64 (the skynode rounds run a compiled binary instead of `bun app/main.ts`).
// Then runs bench/skynode.ts (the built-in SkyNode's costs, bench/results/skynode.json), bench/limits.ts (limit switch
// edge -> instant stop latency, bench/results/limits.json), bench/direct.ts (a 50 MB image to one client,
// bench/results/direct.json), bench/hub-scale.ts (a hub with 100 SkyNodes and 500 viewers, one instance and two
// over Redis, bench/results/hub-scale.json) and bench/groups.ts (500 clients in one /v3/ws group against the same load
// on /v1/ws/stream, bench/results/groups.json), bench/firmware.ts (the compiled binaries' size, start-up, RSS and CPU,
// bench/results/firmware.json) and bench/soak.ts (one appliance under ~200 churning clients, reconnect storms, an
// operator and direct requests for a few minutes: RSS growth, fds, event-loop lag, errors; bench/results/soak.json) as
// children, one after the other, unless BENCH_ONLY.
import { mkdtempSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken } from "../app/auth/principal";
import { loadSigningKey } from "../app/auth/signing-key";
import type { ClientConfig, ClientResult } from "./fanout-client";
import { cleanup, guard, noisyWarning, onCleanup, r1, r3, resultsHead, ROOT, startListening, tempDirs, writeResults, type Proc } from "./procs";
import { loadKnobs, loadRound, type RoundFigures, summarizeRounds } from "./rounds";

const ROUNDS_EACH = Number(process.env.BENCH_ROUNDS ?? 3);
const KINDS = (process.env.BENCH_ONLY ? [process.env.BENCH_ONLY] : ["bare", "skynode"]) as ("bare" | "skynode")[];
const PARAMS = {
  subscribers: Number(process.env.BENCH_SUBSCRIBERS ?? 200),
  payload_bytes: 1024,
  warmup_s: 1,
  duration_s: 5,
  // At most `window` snapshots in flight; the publisher refills in bursts of >= `batch`. 128/16 gave the steadiest
  // figures here (32/1 or 64/8: same order of magnitude, more spread between rounds).
  window: Number(process.env.BENCH_WINDOW ?? 128),
  batch: Number(process.env.BENCH_BATCH ?? 16),
  paced_rate_per_s: 500,
  paced_s: 2,
};
const GOALS = { ratio_min: 0.7, rss_idle_max_mb: 60, rss_loaded_max_mb: 100 };

/** The later part running (bench/skynode.ts or bench/limits.ts): stopped with SIGTERM, so that it cleans up after itself. */
let partBench: Proc | null = null;

onCleanup(() => partBench?.kill("SIGTERM"));
// Fan-out ≈ 1 min, bench/skynode.ts ≈ 1 min, bench/limits.ts ≈ 1.5 min, bench/direct.ts ≈ 1.5 min, bench/hub-scale.ts
// ≈ 1 min, bench/groups.ts ≈ 1 min, bench/firmware.ts ≈ 1.5 min, bench/soak.ts ≈ 5 min (their own watchdogs:
// 150-540 s each).
const watchdog = guard("bench", 1_800_000);

interface Server {
  kind: "skynode" | "bare";
  proc: Proc;
  pubUrl: string;
  subUrl: string;
  stderr: () => string;
}

async function startServer(kind: Server["kind"]): Promise<Server> {
  let cmd: string[];
  let dataDir = "";
  if (kind === "skynode") {
    dataDir = mkdtempSync(join(tmpdir(), "skynode-bench-"));
    tempDirs.push(dataDir);
    // Hub role: the appliance role also runs the built-in SkyNode for sim-1, which would publish alongside (and
    // take over from) the bench's own skynode publisher.
    const cli = process.env.BENCH_SKYNODE_EXEC ? [process.env.BENCH_SKYNODE_EXEC] : [process.execPath, "app/main.ts"];
    cmd = [...cli, "serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir, "--role", "hub"];
  } else {
    cmd = [process.execPath, "bench/bare-server.ts", "0"];
  }
  const { proc, port, stderr } = await startListening(cmd, `${kind} server`);
  const base = `ws://127.0.0.1:${port}`;
  if (kind === "bare") return { kind, proc, pubUrl: `${base}/pub`, subUrl: `${base}/sub`, stderr };
  const key = loadSigningKey(dataDir);
  const skynode = issueToken(key, { sub: "bench-node", role: "skynode", telescopes: ["sim-1"] });
  const viewer = issueToken(key, { sub: "bench-viewer", role: "viewer" });
  return { kind, proc, pubUrl: `${base}/v1/ws/stream?token=${skynode}`, subUrl: `${base}/v1/ws/stream?token=${viewer}`, stderr };
}

type Round = RoundFigures<ClientResult> & { kind: Server["kind"] };

async function round(kind: Server["kind"]): Promise<Round> {
  const server = await startServer(kind);
  const cfg: ClientConfig = {
    mode: kind,
    pubUrl: server.pubUrl,
    subUrl: server.subUrl,
    subscribers: PARAMS.subscribers,
    ...loadKnobs(PARAMS),
    payloadBytes: PARAMS.payload_bytes,
  };
  const spec = { what: kind, script: "bench/fanout-client.ts", cfg, durationS: PARAMS.duration_s, pacedS: PARAMS.paced_s };
  return { kind, ...(await loadRound<ClientResult>(server, { ...spec, drainMs: 0, rssAfterLoad: true })) };
}

function summarize(rs: Round[]) {
  // The client's CPU as it measured it itself (process.cpuUsage over the interval).
  const { figures, m } = summarizeRounds(rs, "snapshots_per_s", (r) => r.result.client_cpu_pct);
  return {
    ...figures,
    rss_connected_before_load_mb: r1(m((r) => r.rss_connected_mb)),
    rss_connected_after_load_mb: r1(m((r) => r.rss_after_load_mb)),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS_EACH; i++) {
    for (const kind of KINDS) {
      const r = await round(kind);
      rounds.push(r);
      console.error(
        `  round ${i + 1} ${kind.padEnd(7)} ${String(r.result.deliveries_per_s).padStart(9)} deliveries/s` +
          `  p50 ${r.result.saturated.p50_ms} ms  p99 ${r.result.saturated.p99_ms} ms` +
          `  server cpu ${r.server_cpu_pct}%  client cpu ${r.result.client_cpu_pct}% (sys ${r.result.client_sys_pct}%)  frames/read ${r.result.frames_per_read}  rss idle/peak ${r.rss_idle_mb}/${r.rss_peak_mb} MB  other ${r.other_cpu_pct}%  paced server cpu ${r.paced_server_cpu_pct}%`,
      );
    }
  }
  if (KINDS.length < 2) {
    console.log("BENCH_ONLY: per-round figures above; bench/results/fanout.json needs both servers and was not written");
    return;
  }
  const sky = summarize(rounds.filter((r) => r.kind === "skynode"));
  const bare = summarize(rounds.filter((r) => r.kind === "bare"));
  const ratio = r3(sky.deliveries_per_s / bare.deliveries_per_s);
  const skyRounds = rounds.filter((r) => r.kind === "skynode");
  const bareRounds = rounds.filter((r) => r.kind === "bare");
  const pairRatios = skyRounds.map((r, i) => r3(r.result.deliveries_per_s / bareRounds[i]!.result.deliveries_per_s));
  const cpuRatio = r3(sky.server_cpu_us_per_delivery / bare.server_cpu_us_per_delivery);
  const maxOther = Math.max(...rounds.map((r) => r.other_cpu_pct));
  const out = {
    ...resultsHead("fanout"),
    params: {
      ...PARAMS,
      rounds_each: ROUNDS_EACH,
      subscription:
        'all subscribers use subscription_id "dash", stream telescope_snapshot, filter telescope_uid sim-1: they share one native Bun topic, so the hub serializes each publish once',
      load:
        "one load process (bench/fanout-client.ts): 1 publisher (Bun WebSocket) + N subscribers (minimal WebSocket clients over Bun.connect that read frame headers and the seq/t prefix only); at most `window` snapshots in flight (in flight = not yet received by every subscriber), refilled in bursts of >= `batch`",
    },
    skynode: sky,
    baseline_bare_bun: bare,
    ratio_deliveries: ratio,
    ratio_deliveries_median: r3(sky.deliveries_per_s_median / bare.deliveries_per_s_median),
    ratio_deliveries_per_round_pair: pairRatios,
    ratio_server_cpu_per_delivery: cpuRatio,
    ratio_server_cpu_paced: r3(sky.paced_server_cpu_pct / bare.paced_server_cpu_pct),
    max_other_cpu_pct: maxOther,
    goals: GOALS,
    met: {
      ratio: ratio >= GOALS.ratio_min,
      rss_idle: sky.rss_idle_mb < GOALS.rss_idle_max_mb,
      rss_loaded: sky.rss_loaded_mb < GOALS.rss_loaded_max_mb,
    },
    notes: [
      "deliveries_per_s: frames received by all subscribers in the 5 s measurement interval (after 1 s warm-up) / 5 s; best round of each (deliveries_per_s_median: median); ratio_deliveries = best/best; the other figures are medians of the rounds",
      "p50_ms/p99_ms: publish->receive latency under that saturated, window-limited load (mostly queueing: ~window/snapshots_per_s); paced_*: at a fixed paced_rate_per_s snapshots/s (paced_server_cpu_*: server CPU at that identical offered load)",
      "rss_idle_mb: server VmRSS 1 s after start, no clients; rss_loaded_mb: peak VmRSS sampled every 100 ms with all subscribers + publisher connected, during and after the load",
      "server_cpu_us_per_delivery: server process CPU (utime+stime) during the interval / deliveries; client_cpu_pct near 100 means the load process, not the server, is the limit (on 2 cpus the two share the machine), so ratio_server_cpu_per_delivery is the sharper comparison of the servers",
      "other_cpu_pct: CPU used during the interval by other processes on the machine (other sessions' tests); rounds with a high value are noisy",
    ],
    rounds: rounds.map((r) => ({
      kind: r.kind,
      deliveries_per_s: r.result.deliveries_per_s,
      p50_ms: r.result.saturated.p50_ms,
      p99_ms: r.result.saturated.p99_ms,
      paced_p50_ms: r.result.paced.p50_ms,
      paced_p99_ms: r.result.paced.p99_ms,
      rss_idle_mb: r.rss_idle_mb,
      rss_connected_mb: r.rss_connected_mb,
      rss_peak_mb: r.rss_peak_mb,
      rss_after_load_mb: r.rss_after_load_mb,
      server_cpu_pct: r.server_cpu_pct,
      client_cpu_pct: r.result.client_cpu_pct,
      frames_per_read: r.result.frames_per_read,
      paced_server_cpu_pct: r.paced_server_cpu_pct,
      other_cpu_pct: r.other_cpu_pct,
      lost: r.result.lost,
    })),
    elapsed_s: r1((performance.now() - started) / 1000),
  };
  const file = writeResults("fanout", out);

  const row = (name: string, s: typeof sky, rssIdle: string) =>
    `${name.padEnd(16)}${String(s.deliveries_per_s).padStart(12)}${String(s.p50_ms).padStart(9)}${String(s.p99_ms).padStart(9)}` +
    `${String(s.paced_p50_ms).padStart(9)}${String(s.paced_p99_ms).padStart(9)}${rssIdle.padStart(9)}${String(s.rss_loaded_mb).padStart(10)}` +
    `${String(s.server_cpu_us_per_delivery).padStart(9)}`;
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  console.log(
    [
      `fan-out: 1 publisher -> ${PARAMS.subscribers} subscribers, ${sky.frame_bytes}-byte frames, window ${PARAMS.window}, ` +
        `${PARAMS.duration_s} s x ${ROUNDS_EACH} rounds each (deliv/s: best round; others: medians), bun ${Bun.version}, ${cpus().length} cpus`,
      `${"".padEnd(16)}${"deliv/s".padStart(12)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"pace p50".padStart(9)}` +
        `${"pace p99".padStart(9)}${"rss idle".padStart(9)}${"rss load".padStart(10)}${"cpu µs/d".padStart(9)}`,
      row("bare Bun.serve", bare, String(bare.rss_idle_mb)),
      row("skynode serve", sky, String(sky.rss_idle_mb)),
      `ratio ${ratio} (medians: ${out.ratio_deliveries_median}; per round pair: ${pairRatios.join(", ")}) (goal >= ${GOALS.ratio_min}: ${mark(out.met.ratio)}); skynode rss idle ${sky.rss_idle_mb} MB ` +
        `(< ${GOALS.rss_idle_max_mb}: ${mark(out.met.rss_idle)}), loaded ${sky.rss_loaded_mb} MB (< ${GOALS.rss_loaded_max_mb}: ${mark(out.met.rss_loaded)})`,
      `server cpu per delivery: skynode/bare = ${cpuRatio} saturated, ${out.ratio_server_cpu_paced} at the paced ${PARAMS.paced_rate_per_s}/s ` +
        `(${sky.paced_server_cpu_pct}% vs ${bare.paced_server_cpu_pct}%); load client cpu ${sky.client_cpu_pct}% / ${bare.client_cpu_pct}% (≈100% = the client sets the pace)`,
      ...noisyWarning(maxOther),
      `wrote ${file} in ${out.elapsed_s} s`,
    ].join("\n"),
  );
}

/** The later parts of `bun run bench` (bench/skynode.ts, bench/limits.ts, bench/direct.ts, bench/hub-scale.ts,
 * bench/groups.ts, bench/firmware.ts, bench/soak.ts): each a child process, one after the other, its output straight
 * to ours. */
async function part(script: string): Promise<number> {
  console.log("");
  partBench = Bun.spawn([process.execPath, script], { cwd: ROOT, stdin: "ignore", stdout: "inherit", stderr: "inherit" });
  const code = await partBench.exited;
  partBench = null;
  if (code !== 0) console.error(`bench: ${script} failed (exit code ${code})`);
  return code;
}

try {
  await main();
  let code = 0;
  if (!process.env.BENCH_ONLY) {
    for (const script of ["bench/skynode.ts", "bench/limits.ts", "bench/direct.ts", "bench/hub-scale.ts", "bench/groups.ts", "bench/firmware.ts", "bench/soak.ts"]) {
      if ((await part(script)) !== 0) code = 1;
    }
  }
  clearTimeout(watchdog);
  cleanup();
  process.exit(code === 0 ? 0 : 1);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  cleanup();
  process.exit(1);
}
