// What both benchmark scripts need around their child processes: spawning by pid with cleanup on exit, signal and
// watchdog handling, draining stderr, and reading CPU time and RSS from /proc.
import { readFileSync, rmSync } from "node:fs";

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
