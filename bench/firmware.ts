// The firmware's resource budget (issue 9): the compiled binaries' sizes; the x64 binary's start-up time, RSS and CPU
// at idle and with 200 viewers on the simulated telescope's streams; the arm64 binary's start-up time and RSS under
// qemu-user emulation (the emulator's own memory included: an upper bound for the board). Baseline in the same run:
// the same server from source (`bun app/main.ts serve`), so the ratios say what compiling changes.
// Writes bench/results/firmware.json. Knobs: BENCH_FIRMWARE_IDLE_S (10), BENCH_FIRMWARE_LOAD_S (10),
// BENCH_FIRMWARE_VIEWERS (200), BENCH_FIRMWARE_SKIP_ARM64=1.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken } from "../app/auth/principal";
import { loadSigningKey } from "../app/auth/signing-key";
import { build } from "../scripts/build";
import { cpuSeconds, finish, guard, r1, r3, resultsHead, ROOT, rssMb, sleep, startListening, stopProc, tempDirs, writeResults } from "./procs";

const IDLE_S = Number(process.env.BENCH_FIRMWARE_IDLE_S ?? 10);
const LOAD_S = Number(process.env.BENCH_FIRMWARE_LOAD_S ?? 10);
const VIEWERS = Number(process.env.BENCH_FIRMWARE_VIEWERS ?? 200);
const QEMU = ["/usr/bin/qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"];
const SETTLE_MS = 3000;

const watchdog = guard("firmware bench", 300_000);

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** CPU % of one core and peak RSS of `pid` over `seconds` (RSS sampled every 250 ms). */
async function sample(pid: number, seconds: number): Promise<{ cpu_pct: number; rss_mb: number; rss_peak_mb: number }> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  let peak = 0;
  while (performance.now() - t0 < seconds * 1000) {
    peak = Math.max(peak, rssMb(pid));
    await sleep(250);
  }
  const cpu = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
  const rss = rssMb(pid);
  return { cpu_pct: r1(cpu * 100), rss_mb: r1(rss), rss_peak_mb: r1(Math.max(peak, rss)) };
}

/** Starts `cmd … serve` on a free port with a fresh data dir: how long until it listens, idle figures, then the same
 * with `viewers` WebSocket viewers subscribed to every stream of sim-1 (snapshots, logs, leases). */
async function measure(what: string, cli: string[], viewers: number) {
  const data = tmp("skynode-bench-fw-");
  const started = performance.now();
  const server = await startListening([...cli, "serve", "--port", "0", "--host", "127.0.0.1", "--data", data], what);
  const startup_ms = Math.round(performance.now() - started);
  try {
    await sleep(SETTLE_MS);
    const idle = await sample(server.proc.pid, IDLE_S);
    if (viewers === 0) return { startup_ms, idle };
    const token = issueToken(loadSigningKey(data), { sub: "bench", role: "viewer", ttlSec: 3600 });
    const sockets: WebSocket[] = [];
    let received = 0;
    await Promise.all(
      Array.from({ length: viewers }, async (_, i) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws/stream?token=${token}`);
        sockets.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error(`viewer ${i} could not connect`));
        });
        ws.onmessage = () => void received++;
        ws.send(JSON.stringify({ kind: "subscribe_stream", subscription_id: "ui", filter: { telescope_uid: "sim-1" } }));
      }),
    );
    await sleep(SETTLE_MS);
    const before = received;
    const loaded = await sample(server.proc.pid, LOAD_S);
    const events_per_s = Math.round((received - before) / LOAD_S);
    for (const ws of sockets) ws.close();
    return { startup_ms, idle, viewers: { count: viewers, events_per_s, ...loaded } };
  } finally {
    await stopProc(server.proc);
  }
}

await finish("firmware bench", watchdog, async () => {
  const dist = tmp("skynode-bench-dist-");
  const t0 = performance.now();
  const x64 = await build("x64", dist);
  const build_x64_ms = Math.round(performance.now() - t0);
  const arm64 = await build("arm64", dist);
  const sizes = { x64_mb: r1(Bun.file(x64).size / 1e6), arm64_mb: r1(Bun.file(arm64).size / 1e6) };

  const binary = await measure("x64 binary", [x64], VIEWERS);
  const source = await measure("bun app/main.ts", [process.execPath, join(ROOT, "app/main.ts")], VIEWERS);
  const emulate = process.env.BENCH_FIRMWARE_SKIP_ARM64 !== "1";
  if (emulate && !existsSync(QEMU[0]!)) throw new Error("qemu-user-static is missing: sudo apt-get install -y qemu-user-static libc6-arm64-cross");
  const arm64Emulated = emulate ? await measure("arm64 binary under qemu", [...QEMU, arm64], 0) : null;

  const out = {
    ...resultsHead("firmware"),
    params: { idle_s: IDLE_S, load_s: LOAD_S, viewers: VIEWERS, settle_ms: SETTLE_MS, telescope: "sim-1 (simulated devices, the appliance's defaults)" },
    sizes,
    build_x64_ms,
    x64_binary: binary,
    baseline_source: source,
    arm64_under_qemu: arm64Emulated,
    ratios: {
      startup_binary_vs_source: r3(binary.startup_ms / source.startup_ms),
      idle_rss_binary_vs_source: r3(binary.idle.rss_mb / source.idle.rss_mb),
      loaded_rss_binary_vs_source: binary.viewers && source.viewers ? r3(binary.viewers.rss_peak_mb / source.viewers.rss_peak_mb) : null,
    },
  };
  const file = writeResults("firmware", out);
  console.log(`binaries: x64 ${sizes.x64_mb} MB, arm64 ${sizes.arm64_mb} MB`);
  for (const [name, m] of [["x64 binary", binary], ["from source", source], ["arm64 (qemu)", arm64Emulated]] as const) {
    if (!m) continue;
    const v = "viewers" in m && m.viewers ? `; ${m.viewers.count} viewers: ${m.viewers.events_per_s} events/s, cpu ${m.viewers.cpu_pct}%, rss ${m.viewers.rss_mb} MB (peak ${m.viewers.rss_peak_mb})` : "";
    console.log(`${name}: start ${m.startup_ms} ms; idle cpu ${m.idle.cpu_pct}%, rss ${m.idle.rss_mb} MB${v}`);
  }
  console.log(`wrote ${file}`);
});
