// `bun run bench`, group fan-out part (bench/README.md): 500 receivers in one /v3/ws group (seed 004,
// docs/messaging.md) and one sender in the same group sending ~1 KiB group messages with a bounded in-flight window,
// against the same load on the primary path (the same 500 receivers subscribed on /v1/ws/stream to one telescope's
// telescope_snapshot, one `skynode` connection publishing snapshots of the same size) in alternating rounds of the
// same run, each round a fresh `--role hub` server and a fresh load process (bench/groups-client.ts). Figures:
// deliveries/s (messages × receivers per second), publish→receive p50/p99 saturated and at a paced rate, server CPU
// per delivery and RSS; ratio = v3 deliveries/s ÷ stream deliveries/s (goal >= 0.8, reported, never asserted: the exit
// code is 1 only on errors). Writes bench/results/groups.json.
// Knobs: BENCH_GROUP_ROUNDS (3 each), BENCH_GROUP_RECEIVERS (500), BENCH_GROUP_WINDOW (128), BENCH_GROUP_BATCH (16),
// BENCH_GROUP_ONLY=v3|stream (that path's rounds only, no results file).
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken } from "../app/auth/principal";
import { loadSigningKey } from "../app/auth/signing-key";
import type { GroupsClientConfig, GroupsClientResult, GroupsPath } from "./groups-client";
import { finish, guard, noisyWarning, r1, r3, resultsHead, spawn, startListening, tempDirs, writeResults, type Proc } from "./procs";
import { loadKnobs, loadRound, type RoundFigures, summarizeRounds } from "./rounds";

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const ROUNDS_EACH = env("BENCH_GROUP_ROUNDS", 3);
const ONLY = process.env.BENCH_GROUP_ONLY as GroupsPath | undefined;
if (ONLY !== undefined && ONLY !== "v3" && ONLY !== "stream") throw new Error("BENCH_GROUP_ONLY is v3 or stream");
const PATHS: GroupsPath[] = ONLY ? [ONLY] : ["stream", "v3"];
const PARAMS = {
  receivers: env("BENCH_GROUP_RECEIVERS", 500),
  frame_bytes: 1024,
  warmup_s: 1,
  duration_s: 4,
  window: env("BENCH_GROUP_WINDOW", 128),
  batch: env("BENCH_GROUP_BATCH", 16),
  paced_rate_per_s: 100,
  paced_s: 2,
  loss_timeout_ms: 2000,
  group: "bench",
  sender_id: "sender",
};
const GOALS = { ratio_min: 0.8 };
const TOKEN_TTL_S = 3600;

// A round ≈ 12 s; 3 rounds of each ≈ 75 s.
const watchdog = guard("bench/groups", 180_000);

interface Server {
  path: GroupsPath;
  proc: Proc;
  senderUrl: string;
  receiverUrl: string;
  stderr: () => string;
}

/** `apikey issue --name bench --data DIR` in its own process, as an operator would; its key. */
async function issueApiKey(dataDir: string): Promise<string> {
  const p = spawn([process.execPath, "app/main.ts", "apikey", "issue", "--name", "bench", "--data", dataDir]);
  const [out, err, code] = await Promise.all([
    new Response(p.stdout as ReadableStream<Uint8Array>).text(),
    new Response(p.stderr as ReadableStream<Uint8Array>).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`apikey issue failed (exit code ${code}): ${err.slice(-2000)}`);
  const text = out.trim();
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    for (const k of ["key", "api_key", "secret"]) if (typeof j[k] === "string") return j[k] as string;
  } catch {}
  // Otherwise the key is the output's last word.
  const words = text.split(/\s+/);
  const key = words.at(-1);
  if (!key) throw new Error(`apikey issue printed no key: ${JSON.stringify(out)}`);
  return key;
}

async function startServer(path: GroupsPath): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "skynode-bench-groups-"));
  tempDirs.push(dataDir);
  const key = loadSigningKey(dataDir); // created here, before the server reads it
  const apiKey = path === "v3" ? await issueApiKey(dataDir) : "";
  // Hub role: the appliance role also runs the built-in SkyNode for sim-1, which would publish alongside.
  // The /v3 sender is a user's client, under the per-connection frame budget: lifted for a saturating load (on both
  // paths alike; the /v1 sender is a SkyNode, which is never limited).
  const configPath = join(dataDir, "bench.toml");
  writeFileSync(configPath, "[server]\nmax_frames_per_s = 1000000\n");
  const cmd = [process.execPath, "app/main.ts", "serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir, "--role", "hub", "--config", configPath];
  const { proc, port, stderr } = await startListening(cmd, `${path} server`);
  const base = `ws://127.0.0.1:${port}`;
  if (path === "stream") {
    const skynode = issueToken(key, { sub: "bench-node", role: "skynode", telescopes: ["sim-1"], ttlSec: TOKEN_TTL_S });
    const viewer = issueToken(key, { sub: "bench-viewer", role: "viewer", ttlSec: TOKEN_TTL_S });
    return { path, proc, senderUrl: `${base}/v1/ws/stream?token=${skynode}`, receiverUrl: `${base}/v1/ws/stream?token=${viewer}`, stderr };
  }
  const jwt = issueToken(key, { sub: "bench-user", role: "viewer", ttlSec: TOKEN_TTL_S });
  const q = `api_key=${encodeURIComponent(apiKey)}&jwt=${jwt}`;
  const g = `${base}/v3/ws/group/${PARAMS.group}/client`;
  return { path, proc, senderUrl: `${g}/${PARAMS.sender_id}?${q}`, receiverUrl: `${g}/r{i}?${q}`, stderr };
}

type Round = RoundFigures<GroupsClientResult> & { path: GroupsPath };

async function round(path: GroupsPath): Promise<Round> {
  const server = await startServer(path);
  const cfg: GroupsClientConfig = {
    path,
    senderUrl: server.senderUrl,
    receiverUrl: server.receiverUrl,
    receivers: PARAMS.receivers,
    ...loadKnobs(PARAMS),
    frameBytes: PARAMS.frame_bytes,
    lossTimeoutMs: PARAMS.loss_timeout_ms,
    group: PARAMS.group,
    senderId: PARAMS.sender_id,
  };
  const spec = { what: path, script: "bench/groups-client.ts", cfg, durationS: PARAMS.duration_s, pacedS: PARAMS.paced_s };
  return { path, ...(await loadRound<GroupsClientResult>(server, { ...spec, drainMs: PARAMS.loss_timeout_ms, rssAfterLoad: false })) };
}

function summarize(rs: Round[]) {
  const { figures, m } = summarizeRounds(rs, "messages_per_s", (r) => r.load_cpu_pct);
  return {
    ...figures,
    rss_connected_mb: r1(m((r) => r.rss_connected_mb)),
    connect_ms: Math.round(m((r) => r.result.connect_ms)),
    lost: rs.reduce((a, r) => a + r.result.lost, 0),
  };
}

function describe(i: number, r: Round): string {
  const x = r.result;
  return (
    `  round ${i + 1} ${r.path.padEnd(6)} ${String(x.deliveries_per_s).padStart(8)} deliveries/s (${x.messages_per_s} msgs/s)` +
    `  p50/p99 ${x.saturated.p50_ms}/${x.saturated.p99_ms} ms  paced p50/p99 ${x.paced.p50_ms}/${x.paced.p99_ms} ms` +
    `  server cpu ${r.server_cpu_pct}% (${r.server_cpu_us_per_delivery} µs/d)  client cpu ${r.load_cpu_pct}%  frames/read ${x.frames_per_read}` +
    `  rss idle/conn/peak ${r.rss_idle_mb}/${r.rss_connected_mb}/${r.rss_peak_mb} MB  connect ${x.connect_ms} ms  lost ${x.lost}  other ${r.other_cpu_pct}%` +
    (r.path === "v3" ? `  presence frames ${x.presence_frames}, sender echoes ${x.sender_echoes}` : "")
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS_EACH; i++) {
    // Alternate, and alternate which path goes first, so a slow drift of the machine's load favours neither.
    for (const path of i % 2 === 0 ? PATHS : [...PATHS].reverse()) {
      const r = await round(path);
      rounds.push(r);
      console.error(describe(i, r));
    }
  }
  if (PATHS.length < 2) {
    console.log("BENCH_GROUP_ONLY: per-round figures above; bench/results/groups.json needs both paths and was not written");
    return;
  }
  const v3Rounds = rounds.filter((r) => r.path === "v3");
  const streamRounds = rounds.filter((r) => r.path === "stream");
  const v3 = summarize(v3Rounds);
  const stream = summarize(streamRounds);
  const ratio = r3(v3.deliveries_per_s / stream.deliveries_per_s);
  const pairRatios = v3Rounds.map((r, i) => r3(r.result.deliveries_per_s / streamRounds[i]!.result.deliveries_per_s));
  const cpuRatio = r3(v3.server_cpu_us_per_delivery / stream.server_cpu_us_per_delivery);
  const maxOther = Math.max(...rounds.map((r) => r.other_cpu_pct));
  const out = {
    ...resultsHead("groups"),
    params: {
      ...PARAMS,
      rounds_each: ROUNDS_EACH,
      server: "bun app/main.ts serve --port 0 --host 127.0.0.1 --data <tmp> --role hub (fresh per round; v3 rounds: `apikey issue --name bench --data <tmp>` first)",
      v3:
        "receivers r0..rN-1 and the sender on /v3/ws/group/bench/client/{id}?api_key=<key>&jwt=<viewer token>; the sender sends {msg_type: msg, target: group, payload: {seq, t, pad}}; every member gets it (the sender too: counted apart, as are presence frames)",
      stream:
        'receivers on /v1/ws/stream?token=<viewer token>, subscribe_stream subscription_id "dash", streams [telescope_snapshot], filter telescope_uid sim-1 (one shared native Bun topic); the sender on /v1/ws/stream?token=<skynode token for sim-1> sends publish_telescope_snapshot with snapshot {seq, t, pad}',
      load:
        "one load process (bench/groups-client.ts): the sender (a Bun WebSocket) + N receivers (minimal WebSocket clients over Bun.connect that read frame headers and the seq/t prefix only); at most `window` messages in flight (in flight = not yet received by every receiver, or given up on after loss_timeout_ms), refilled in bursts of >= `batch`; the pad is sized so each path's delivered frame is ≈ frame_bytes",
    },
    v3,
    baseline_stream: stream,
    ratio_deliveries: ratio,
    ratio_deliveries_median: r3(v3.deliveries_per_s_median / stream.deliveries_per_s_median),
    ratio_deliveries_per_round_pair: pairRatios,
    ratio_p99: r3(v3.p99_ms / stream.p99_ms),
    ratio_paced_p99: r3(v3.paced_p99_ms / stream.paced_p99_ms),
    ratio_server_cpu_per_delivery: cpuRatio,
    ratio_server_cpu_paced: r3(v3.paced_server_cpu_pct / stream.paced_server_cpu_pct),
    max_other_cpu_pct: maxOther,
    goals: GOALS,
    met: { ratio: ratio >= GOALS.ratio_min },
    notes: [
      `deliveries_per_s: bench messages received by all receivers in the ${PARAMS.duration_s} s measurement interval (after ${PARAMS.warmup_s} s warm-up) / its length; best round of each path (deliveries_per_s_median: median); ratio_deliveries = v3 best / stream best; the other figures are medians of the rounds`,
      "p50_ms/p99_ms: send->receive latency under that saturated, window-limited load (mostly queueing: ~window/messages_per_s); paced_*: at a fixed paced_rate_per_s messages/s (paced_server_cpu_*: server CPU at that identical offered load)",
      "latency clock: performance.timeOrigin + performance.now() stamped by the sender as payload t, read at the receiver's TCP read that carried the frame; sender and receivers share one process",
      "server_cpu_us_per_delivery: server process CPU (utime+stime) during the interval / deliveries; client_cpu_pct near 100 means the load process, not the server, sets the pace (server and load process share the machine's cpus), so ratio_server_cpu_per_delivery is the sharper comparison of the two paths",
      "v3 extras the stream path does not have: the sender gets its own copy of every message (a group member; counted in sender_echoes, not as a delivery) and the receivers get presence joins during setup (counted apart, before the load starts)",
      "lost: deliveries given up on after loss_timeout_ms (0 = every receiver got every message)",
      "other_cpu_pct: CPU used during the interval by processes other than the server and the load process (other sessions' work); rounds with a high value are noisy",
    ],
    rounds: rounds.map((r) => ({
      path: r.path,
      deliveries_per_s: r.result.deliveries_per_s,
      messages_per_s: r.result.messages_per_s,
      p50_ms: r.result.saturated.p50_ms,
      p99_ms: r.result.saturated.p99_ms,
      max_ms: r.result.saturated.max_ms,
      paced_p50_ms: r.result.paced.p50_ms,
      paced_p99_ms: r.result.paced.p99_ms,
      paced_delivered: `${r.result.paced.deliveries}/${r.result.paced.expected}`,
      server_cpu_pct: r.server_cpu_pct,
      server_cpu_us_per_delivery: r.server_cpu_us_per_delivery,
      paced_server_cpu_pct: r.paced_server_cpu_pct,
      client_cpu_pct: r.load_cpu_pct,
      frames_per_read: r.result.frames_per_read,
      rss_idle_mb: r.rss_idle_mb,
      rss_connected_mb: r.rss_connected_mb,
      rss_peak_mb: r.rss_peak_mb,
      connect_ms: r.result.connect_ms,
      frame_bytes: r.result.frame_bytes,
      lost: r.result.lost,
      ...(r.path === "v3" ? { presence_frames: r.result.presence_frames, sender_echoes: r.result.sender_echoes } : {}),
      other_cpu_pct: r.other_cpu_pct,
    })),
    elapsed_s: r1((performance.now() - started) / 1000),
  };
  const file = writeResults("groups", out);

  const row = (name: string, s: typeof v3) =>
    `${name.padEnd(18)}${String(s.deliveries_per_s).padStart(10)}${String(s.messages_per_s).padStart(8)}${String(s.p50_ms).padStart(9)}${String(s.p99_ms).padStart(9)}` +
    `${String(s.paced_p50_ms).padStart(9)}${String(s.paced_p99_ms).padStart(9)}${String(s.server_cpu_pct).padStart(8)}${String(s.server_cpu_us_per_delivery).padStart(9)}` +
    `${String(s.client_cpu_pct).padStart(8)}${`${s.rss_idle_mb}/${s.rss_loaded_mb}`.padStart(12)}`;
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  console.log(
    [
      `group fan-out: 1 sender -> ${PARAMS.receivers} receivers, ${v3.frame_bytes}/${stream.frame_bytes}-byte frames (v3/stream), window ${PARAMS.window}, ` +
        `${PARAMS.duration_s} s x ${ROUNDS_EACH} rounds each (deliv/s: best round; others: medians), bun ${Bun.version}, ${cpus().length} cpus`,
      `${"".padEnd(18)}${"deliv/s".padStart(10)}${"msgs/s".padStart(8)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"pace p50".padStart(9)}` +
        `${"pace p99".padStart(9)}${"srv cpu".padStart(8)}${"µs/deliv".padStart(9)}${"cli cpu".padStart(8)}${"rss MB".padStart(12)}`,
      row("/v1/ws/stream", stream),
      row("/v3/ws group", v3),
      `ratio v3/stream ${ratio} (medians: ${out.ratio_deliveries_median}; per round pair: ${pairRatios.join(", ")}) (goal >= ${GOALS.ratio_min}: ${mark(out.met.ratio)}); ` +
        `p99 v3/stream ${out.ratio_p99} saturated, ${out.ratio_paced_p99} paced`,
      `server cpu per delivery: v3/stream = ${cpuRatio} saturated, ${out.ratio_server_cpu_paced} at the paced ${PARAMS.paced_rate_per_s}/s ` +
        `(${v3.paced_server_cpu_pct}% vs ${stream.paced_server_cpu_pct}%); load client cpu ${v3.client_cpu_pct}% / ${stream.client_cpu_pct}% (≈100% = the client sets the pace)` +
        (v3.lost + stream.lost > 0 ? `; lost deliveries: v3 ${v3.lost}, stream ${stream.lost}` : ""),
      ...noisyWarning(maxOther),
      `wrote ${file} in ${out.elapsed_s} s`,
    ].join("\n"),
  );
}

await finish("bench/groups", watchdog, main);
