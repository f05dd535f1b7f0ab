// What the benchmark scripts need around their child processes: spawning by pid with cleanup on exit, signal and
// watchdog handling, draining stderr, reading CPU time and RSS from /proc, a load process' JSON events, and the
// common frame of a script (its results file, its exit).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("..", import.meta.url).pathname;
export type Proc = ReturnType<typeof Bun.spawn>;

const live = new Set<Proc>();
export const tempDirs: string[] = [];
const cleanupHooks: (() => void)[] = [];

/** Runs before the children are killed (e.g. closing clients, asking a child bench to stop its own servers). */
export function onCleanup(hook: () => void): void {
  cleanupHooks.push(hook);
}

export function cleanup(): void {
  for (const h of cleanupHooks) h();
  for (const p of live) {
    try {
      p.kill("SIGKILL"); // by pid: only processes this script spawned
    } catch {}
  }
  live.clear();
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Cleans up on SIGINT/SIGTERM, and gives up (exit 1) after `watchdogMs`. Returns the watchdog timer. */
export function guard(name: string, watchdogMs: number): ReturnType<typeof setTimeout> {
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  process.on("SIGTERM", () => {
    cleanup();
    process.exit(143);
  });
  return setTimeout(() => {
    console.error(`${name}: watchdog: still running after ${watchdogMs / 1000} s, giving up`);
    cleanup();
    process.exit(1);
  }, watchdogMs);
}

export function spawn(cmd: string[], stdin: "pipe" | "ignore" = "ignore"): Proc {
  const p = Bun.spawn(cmd, { cwd: ROOT, stdin, stdout: "pipe", stderr: "pipe" });
  live.add(p);
  void p.exited.then(() => live.delete(p));
  return p;
}

/** Keeps the tail of a child's stderr (its JSON log, for error messages) and keeps the pipe drained. */
export function drainStderr(proc: Proc): () => string {
  let tail = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) tail = (tail + decoder.decode(chunk)).slice(-4000);
  })().catch(() => {});
  return () => tail;
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(m[1]) / 1024) * 10) / 10;
}

/** utime + stime of a process in seconds (10 ms resolution). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // fields 14 and 15 of proc(5), USER_HZ = 100
}

/** Busy CPU seconds of the whole machine (all cpus), from /proc/stat. */
export function machineBusySeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / 100;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** SIGTERM (a server stops cleanly: the appliance its devices first), SIGKILL if it has not exited after `graceMs`. */
export async function stopProc(p: Proc, graceMs = 5000): Promise<void> {
  p.kill("SIGTERM");
  const code = await Promise.race([p.exited, sleep(graceMs).then(() => "timeout" as const)]);
  if (code === "timeout") p.kill("SIGKILL");
}

/** Splits a child's stdout into lines; `next()` resolves with the next one (or null at EOF), with a timeout. */
export function lines(proc: Proc, what: string) {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let eof = false;
  return async function next(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        return line;
      }
      if (eof) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no output within ${timeoutMs} ms`);
      let timer: Timer | undefined;
      const r = await Promise.race([
        reader.read(),
        new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), left))),
      ]);
      clearTimeout(timer);
      if (r === "timeout") throw new Error(`${what}: no output within ${timeoutMs} ms`);
      if (r.done) eof = true;
      else buf += decoder.decode(r.value, { stream: true });
    }
  };
}

/** A load process' side of the protocol (bench/load-process.ts): one JSON object per stdout line. `expect(event)`
 * resolves with the next object of that event; an "error" event, or the process exiting first, throws, with
 * `context()` (the servers' log tails) in the message. */
export function loadEvents(proc: Proc, what: string, context: () => string) {
  const err = drainStderr(proc);
  const next = lines(proc, what);
  return async function expect<T = { event: string }>(event: string, timeoutMs: number): Promise<T> {
    for (;;) {
      const line = await next(timeoutMs);
      if (line === null) throw new Error(`${what} exited (expected ${event})\n${err()}\n${context()}`);
      if (!line.startsWith("{")) continue;
      const msg = JSON.parse(line) as { event: string; message?: string };
      if (msg.event === "error") throw new Error(`${what}: ${msg.message}\n${context()}`);
      if (msg.event === event) return msg as T;
    }
  };
}

/** Writes a line to a child's stdin at once. */
export function tell(proc: Proc, line: string): void {
  const sink = proc.stdin as import("bun").FileSink;
  sink.write(`${line}\n`);
  sink.flush();
}

/** The head of every results file: which benchmark, when, on what. */
export function resultsHead(benchmark: string) {
  return {
    benchmark,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? "unknown", bun: Bun.version },
  };
}

/** Writes bench/results/NAME.json; its path relative to the repository, for the summary's last line. */
export function writeResults(name: string, out: object): string {
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  const file = `bench/results/${name}.json`;
  writeFileSync(join(ROOT, file), JSON.stringify(out, null, 2) + "\n");
  return file;
}

/** The summary's warning when other processes were busy during a measurement (`maxOtherPct`: % of one cpu). */
export function noisyWarning(maxOtherPct: number): string[] {
  return maxOtherPct > 20 ? [`warning: other processes used up to ${maxOtherPct}% cpu during a measurement: figures are noisy`] : [];
}

/** A bench script's end: `main` done, exit 0 (watchdog off); it failed, the error on stderr and exit 1. Children are
 * cleaned up either way. */
export async function finish(name: string, watchdog: ReturnType<typeof setTimeout>, main: () => Promise<unknown>): Promise<never> {
  try {
    await main();
    clearTimeout(watchdog);
    cleanup();
    process.exit(0);
  } catch (err) {
    console.error(`${name} failed: ${(err as Error).stack ?? err}`);
    cleanup();
    process.exit(1);
  }
}

/** Spawns a server that prints `listening on http://HOST:PORT` and resolves with its port once it has. */
export async function startListening(cmd: string[], what: string): Promise<{ proc: Proc; port: number; stderr: () => string }> {
  const proc = spawn(cmd);
  const stderr = drainStderr(proc);
  const next = lines(proc, what);
  for (;;) {
    const line = await next(20_000);
    if (line === null) throw new Error(`${what} exited before listening: ${stderr()}`);
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(line);
    if (m) {
      void (async () => {
        while ((await next(1e9)) !== null);
      })().catch(() => {});
      return { proc, port: Number(m[1]), stderr };
    }
  }
}
