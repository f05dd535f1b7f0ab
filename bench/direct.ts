// `bun run bench`, direct-transfer part (bench/README.md): a 50 MB FITS from the appliance to one client on loopback,
// binary and base64 (the typed client), next to a bare Bun.serve sending the same bytes as 1 MiB binary frames, the
// HTTP download, and seed 001's atob snippet vs the typed client's binary mode in headless Chromium. Server CPU
// seconds per GB and the server's RSS growth during each transfer come from /proc. Writes bench/results/direct.json.
// Knobs: BENCH_DIRECT_ROUNDS (3), BENCH_DIRECT_COUNT (transfers per client process, 4).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken } from "../app/auth/principal";
import { loadSigningKey } from "../app/auth/signing-key";
import { encodeFits } from "../app/imaging/fits";
import { openDatabase } from "../app/store/database";
import { ImageIndex } from "../app/store/images";
import { launchChromium, browserClientBundle } from "../test/helpers/browser";
import { SEED_001_SNIPPET_JS } from "../test/helpers/seed-001-snippet";
import { cpuSeconds, drainStderr, finish, guard, lines, median, onCleanup, r1, r3, rssMb, spawn, startListening, tempDirs, writeResults } from "./procs";

const ROUNDS = Number(process.env.BENCH_DIRECT_ROUNDS ?? 3);
const COUNT = Number(process.env.BENCH_DIRECT_COUNT ?? 4);
const CHUNK_MIB = 1;
const GOALS = { binary_vs_bare_min: 0.8, binary_vs_base64_bun_min: 1.5, binary_vs_base64_chromium_min: 3, rss_growth_max_chunks: 4 };
const watchdog = guard("bench/direct", 240_000);
const MiB = 1024 * 1024;

type Mode = "bare" | "binary" | "base64" | "http";
interface Measure {
  mib_s: number;
  server_cpu_s_per_gb: number;
  server_rss_growth_mb: number;
}

/** Samples a process' RSS every 2 ms while `during` runs; returns the peak above the level before it. */
async function peakGrowth<T>(pid: number, during: () => Promise<T>): Promise<{ result: T; growth_mb: number }> {
  const before = rssMb(pid);
  let peak = before;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssMb(pid));
      await Bun.sleep(2);
    }
  })();
  const result = await during();
  running = false;
  await sampler;
  return { result, growth_mb: r1(peak - before) };
}

async function runClient(mode: Mode, url: string, token: string, imageId: string, size: number): Promise<number[]> {
  const p = spawn([process.execPath, "bench/direct-client.ts", mode, url, token, imageId, String(COUNT), String(size)]);
  const stderr = drainStderr(p);
  const next = lines(p, `direct client (${mode})`);
  const ms: number[] = [];
  for (;;) {
    const line = await next(120_000);
    if (line === null) break;
    const r = JSON.parse(line) as { bytes: number; ms: number };
    if (r.bytes !== size) throw new Error(`${mode}: got ${r.bytes} of ${size} bytes`);
    ms.push(r.ms);
  }
  if ((await p.exited) !== 0) throw new Error(`direct client (${mode}) failed: ${stderr()}`);
  return ms;
}

async function main() {
  const started = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), "skynode-bench-direct-"));
  tempDirs.push(dataDir);
  // A 5000×5000 16-bit frame of noise: 50 MB of FITS that compresses to nothing and decodes to nothing special.
  const pixels = new Uint16Array(5000 * 5000);
  crypto.getRandomValues(pixels.subarray(0, 65536));
  for (let i = 65536; i < pixels.length; i += 65536) pixels.copyWithin(i, 0, Math.min(65536, pixels.length - i));
  const fits = encodeFits({ width: 5000, height: 5000, pixels }, [["OBJECT", "bench"]]);
  const dir = join(dataDir, "images", "sim-1");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "bench.fits");
  writeFileSync(path, fits);
  const db = openDatabase(dataDir);
  new ImageIndex(db).add({ image_id: "bench-50mb", telescope_uid: "sim-1", path, created_at: Date.now(), meta: { width: 5000, height: 5000, bitpix: 16 } });
  db.close();
  const size = fits.byteLength;

  const appliance = await startListening([process.execPath, "app/main.ts", "serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir], "appliance");
  const bare = await startListening([process.execPath, "bench/bare-direct-server.ts", path], "bare server");
  const token = issueToken(loadSigningKey(dataDir), { sub: "bench", role: "viewer" });
  const http = `http://127.0.0.1:${appliance.port}`;
  const urls: Record<Mode, string> = { bare: `ws://127.0.0.1:${bare.port}`, binary: http, base64: http, http };

  const rounds: Record<Mode, Measure[]> = { bare: [], binary: [], base64: [], http: [] };
  const modes: Mode[] = ["bare", "binary", "base64", "http"];
  // One warm-up pass of every mode (JIT, allocator, page cache), then the measured rounds, modes alternating.
  for (const mode of modes) await runClient(mode, urls[mode], token, "bench-50mb", size);
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) {
      const pid = (mode === "bare" ? bare : appliance).proc.pid;
      const cpu0 = cpuSeconds(pid);
      const { result: ms, growth_mb } = await peakGrowth(pid, () => runClient(mode, urls[mode], token, "bench-50mb", size));
      const cpu = cpuSeconds(pid) - cpu0;
      rounds[mode].push({
        mib_s: r1(size / MiB / (median(ms) / 1000)),
        server_cpu_s_per_gb: r3(cpu / ((size * ms.length) / 1e9)),
        server_rss_growth_mb: growth_mb,
      });
    }
  }

  // Chromium: the seed's snippet (atob) against the typed client's binary mode, on the appliance's own origin.
  const browser = await launchChromium();
  onCleanup(() => void browser.close());
  const page = await browser.newPage();
  await page.goto(`${http}/healthz`);
  await page.addScriptTag({ type: "module", content: await browserClientBundle() });
  await page.waitForFunction(() => "SkynodeClient" in globalThis);
  // Also the bare server's frames received into one buffer: how fast this browser's WebSocket itself goes here.
  const chromium: Record<"bare" | "binary" | "base64_seed_snippet", Measure[]> = { bare: [], binary: [], base64_seed_snippet: [] };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of ["bare", "base64_seed_snippet", "binary"] as const) {
      const pid = (mode === "bare" ? bare : appliance).proc.pid;
      const cpu0 = cpuSeconds(pid);
      const { result, growth_mb } = await peakGrowth(pid, () =>
        page.evaluate(
          async ({ url, ws, bareUrl, size, token, mode, snippet }) => {
            let bytes = 0;
            if (mode === "bare") {
              const socket = new WebSocket(bareUrl);
              socket.binaryType = "arraybuffer";
              await new Promise((r) => (socket.onopen = r));
              const out = new Uint8Array(size);
              const t1 = performance.now();
              await new Promise<void>((resolve) => {
                socket.onmessage = (e) => {
                  if (typeof e.data === "string") return resolve();
                  out.set(new Uint8Array(e.data as ArrayBuffer), bytes);
                  bytes += (e.data as ArrayBuffer).byteLength;
                };
                socket.send("go");
              });
              socket.close();
              return { bytes, ms: performance.now() - t1 };
            }
            if (mode === "binary") {
              const { SkynodeClient } = globalThis as unknown as { SkynodeClient: typeof import("../app/client").SkynodeClient };
              const client = await SkynodeClient.connect({ url, token, reconnect: false });
              const t1 = performance.now();
              bytes = (await client.request("sim-1", "image.fetch", { image_id: "bench-50mb" }, { encoding: "binary" })).bytes.length;
              client.close();
              return { bytes, ms: performance.now() - t1 };
            }
            const socket = new WebSocket(`${ws}/v1/ws/commands?token=${token}`);
            await new Promise((r) => (socket.onopen = r));
            const t1 = performance.now();
            const myId = "bench";
            await new Promise<void>((resolve, reject) => {
              const done = (payload: Uint8Array) => ((bytes = payload.length), resolve());
              new Function("socket", "myId", "done", "fail", snippet)(socket, myId, done, reject);
              socket.send(JSON.stringify({ kind: "direct_request", request_id: myId, telescope_uid: "sim-1", request_type: "image.fetch", payload: { image_id: "bench-50mb" } }));
            });
            socket.close();
            return { bytes, ms: performance.now() - t1 };
          },
          { url: http, ws: http.replace("http", "ws"), bareUrl: urls.bare, size, token, mode, snippet: SEED_001_SNIPPET_JS },
        ),
      );
      const cpu = cpuSeconds(pid) - cpu0;
      if (result.bytes !== size) throw new Error(`chromium ${mode}: got ${result.bytes} of ${size} bytes`);
      // Round 0 warms the page up.
      if (round > 0) chromium[mode].push({ mib_s: r1(size / MiB / (result.ms / 1000)), server_cpu_s_per_gb: r3(cpu / (size / 1e9)), server_rss_growth_mb: growth_mb });
    }
  }
  await browser.close();

  const med = (ms: Measure[]): Measure => ({
    mib_s: r1(median(ms.map((m) => m.mib_s))),
    server_cpu_s_per_gb: r3(median(ms.map((m) => m.server_cpu_s_per_gb))),
    server_rss_growth_mb: r1(median(ms.map((m) => m.server_rss_growth_mb))),
  });
  const fig = Object.fromEntries(modes.map((m) => [m, med(rounds[m])])) as Record<Mode, Measure>;
  const chr = { bare: med(chromium.bare), binary: med(chromium.binary), base64_seed_snippet: med(chromium.base64_seed_snippet) };
  const ratios = {
    binary_vs_bare: r3(fig.binary.mib_s / fig.bare.mib_s),
    binary_vs_base64_bun: r3(fig.binary.mib_s / fig.base64.mib_s),
    binary_vs_base64_chromium: r3(chr.binary.mib_s / chr.base64_seed_snippet.mib_s),
    binary_vs_bare_chromium: r3(chr.binary.mib_s / chr.bare.mib_s),
    base64_vs_binary_server_cpu: r3(fig.base64.server_cpu_s_per_gb / Math.max(fig.binary.server_cpu_s_per_gb, 0.001)),
  };
  const maxBinaryGrowth = Math.max(...rounds.binary.map((m) => m.server_rss_growth_mb), ...chromium.binary.map((m) => m.server_rss_growth_mb));
  const met = {
    binary_vs_bare: ratios.binary_vs_bare >= GOALS.binary_vs_bare_min,
    binary_vs_base64_bun: ratios.binary_vs_base64_bun >= GOALS.binary_vs_base64_bun_min,
    binary_vs_base64_chromium: ratios.binary_vs_base64_chromium >= GOALS.binary_vs_base64_chromium_min,
    rss_growth: maxBinaryGrowth <= GOALS.rss_growth_max_chunks * CHUNK_MIB,
  };
  const out = {
    params: { file_bytes: size, chunk_mib: CHUNK_MIB, rounds: ROUNDS, transfers_per_round: COUNT, client: "separate Bun process (app/client) or headless Chromium" },
    bun_client: fig,
    chromium: chr,
    ratios,
    server_rss_growth_binary_max_mb: maxBinaryGrowth,
    goals: GOALS,
    met,
    per_round: { ...rounds, chromium },
    elapsed_s: r1((performance.now() - started) / 1000),
  };
  const file = writeResults("direct", out);
  const mark = (ok: boolean) => (ok ? "met" : "MISSED");
  const row = (name: string, m: Measure) =>
    `${name.padEnd(34)}${String(m.mib_s).padStart(9)}${String(m.server_cpu_s_per_gb).padStart(12)}${String(m.server_rss_growth_mb).padStart(12)}`;
  console.log(
    [
      `direct transfer: ${(size / 1e6).toFixed(1)} MB FITS, appliance -> one client on loopback (medians of ${ROUNDS} rounds)`,
      `${"".padEnd(34)}${"MiB/s".padStart(9)}${"cpu s/GB".padStart(12)}${"rss +MB".padStart(12)}`,
      row("bare Bun.serve, 1 MiB binary", fig.bare),
      row("skynode binary (Bun client)", fig.binary),
      row("skynode base64 (Bun client)", fig.base64),
      row("skynode HTTP GET .fits", fig.http),
      row("bare Bun.serve (Chromium)", chr.bare),
      row("skynode binary (Chromium)", chr.binary),
      row("skynode base64 (Chromium, seed)", chr.base64_seed_snippet),
      `binary/bare ${ratios.binary_vs_bare} (goal >= ${GOALS.binary_vs_bare_min}: ${mark(met.binary_vs_bare)}); binary/base64 ${ratios.binary_vs_base64_bun} with Bun (>= ${GOALS.binary_vs_base64_bun_min}: ${mark(met.binary_vs_base64_bun)}), ` +
        `${ratios.binary_vs_base64_chromium} in Chromium (>= ${GOALS.binary_vs_base64_chromium_min}: ${mark(met.binary_vs_base64_chromium)}; binary/bare there ${ratios.binary_vs_bare_chromium}); ` +
        `server RSS growth in binary mode <= ${maxBinaryGrowth} MB (<= ${GOALS.rss_growth_max_chunks} chunks of ${CHUNK_MIB} MiB: ${mark(met.rss_growth)}); base64 costs the server ${ratios.base64_vs_binary_server_cpu}x the CPU of binary`,
      `wrote ${file} in ${out.elapsed_s} s`,
    ].join("\n"),
  );
}

await finish("bench/direct", watchdog, main);
