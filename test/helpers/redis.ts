// A real Redis (Debian's redis-server) on loopback for a test or a benchmark: a free port, no persistence, a fresh
// working dir, ready once it says so and answers PING. No bun:test import here: bench/hub-scale.ts uses
// `launchRedis` with its own spawn (bench/procs.ts), tests use `startRedis` (tracked for test/preload.ts).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient } from "bun";
import { track } from "./server";

export type RedisProc = ReturnType<typeof Bun.spawn>;

export interface TestRedis {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The running redis-server (a new process after restart()). */
  readonly proc: RedisProc;
  /** Its working dir (`--dir`, a fresh temp dir), removed by stop(). */
  dir: string;
  /** Kills the server by pid (SIGTERM, then SIGKILL after 5 s), waits for its exit and removes its working dir. */
  stop(): Promise<void>;
  /** Fault injection: SIGKILL by pid and wait for the exit (nothing is persisted: a restart starts empty). */
  kill(): Promise<void>;
  /** A new redis-server on the same port and working dir (after kill()), resolved once it answers PING. */
  restart(): Promise<void>;
  /** Fault injection: SIGSTOP, so that connections stay open and nothing is answered (a hung Redis); thaw() is
   * SIGCONT. stop() thaws it first. */
  freeze(): void;
  thaw(): void;
}

export const REDIS_INSTALL_HINT = "sudo apt-get install -y redis-server";
const READY_LINE = "Ready to accept connections";
const READY_TIMEOUT_MS = 10_000;

export function redisServerPath(): string {
  const found = Bun.which("redis-server") ?? (existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : null);
  if (!found) throw new Error(`redis-server not found: install it with \`${REDIS_INSTALL_HINT}\` (Debian's package)`);
  return found;
}

/** A port nothing listens on right now: bind port 0 on loopback, read it, close. (Another process may take it
 * before redis-server binds it: `launchRedis` then retries with a new port.) */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port from the OS"))));
    });
  });
}

/** Starts redis-server with `spawn` (it must give a process whose stdout is piped). */
export async function launchRedis(
  spawn: (cmd: string[]) => RedisProc = (cmd) => Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }),
): Promise<TestRedis> {
  const bin = redisServerPath();
  // No RDB snapshots, no AOF, the working dir a fresh temp dir; loopback only.
  const command = (port: number, dir: string) => [bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  let lastErr: Error | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "skynode-redis-"));
    let proc = spawn(command(port, dir));
    let frozen = false;
    const url = `redis://127.0.0.1:${port}`;
    const end = async (signal: "SIGTERM" | "SIGKILL") => {
      if (frozen) thaw();
      proc.kill(signal);
      let timer: Timer | undefined;
      const killed = new Promise<void>((res) => {
        timer = setTimeout(() => {
          proc.kill("SIGKILL");
          res();
        }, 5000);
      });
      await Promise.race([proc.exited.then(() => {}), killed]);
      await proc.exited;
      clearTimeout(timer);
    };
    const stop = async () => {
      await end("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    };
    const thaw = () => {
      frozen = false;
      proc.kill("SIGCONT");
    };
    const redis: TestRedis = {
      url,
      port,
      get proc() {
        return proc;
      },
      dir,
      stop,
      kill: () => end("SIGKILL"),
      async restart() {
        if (proc.exitCode === null && proc.signalCode === null) throw new Error(`redis-server (${url}) is still running: kill() it first`);
        proc = spawn(command(port, dir));
        await waitReady(proc, url);
      },
      freeze() {
        frozen = true;
        proc.kill("SIGSTOP");
      },
      thaw,
    };
    try {
      await waitReady(proc, url);
      return redis;
    } catch (err) {
      lastErr = err as Error;
      await stop();
      // A port taken between freePort() and the bind: try another one. Anything else is final.
      if (!/Address already in use/i.test(lastErr.message)) break;
    }
  }
  throw lastErr ?? new Error("redis-server did not start");
}

/** `launchRedis` for a test: the process is tracked, so test/preload.ts kills it by pid if the test fails before
 * calling stop(). */
export async function startRedis(): Promise<TestRedis> {
  return await launchRedis((cmd) => {
    const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    track(proc);
    return proc;
  });
}

/** Resolves once redis-server printed its ready line and answered PING; rejects (with its output) if it exits
 * first or is not ready within READY_TIMEOUT_MS. Its stdout and stderr are kept drained afterwards. */
async function waitReady(proc: RedisProc, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let out = "";
  let sawReady = false;
  let signal: () => void = () => {};
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out = (out + decoder.decode(chunk, { stream: true })).slice(-8000);
      if (!sawReady && out.includes(READY_LINE)) sawReady = true;
      signal();
    }
  };
  void drain(proc.stdout as ReadableStream<Uint8Array>).catch(() => {});
  void drain(proc.stderr as ReadableStream<Uint8Array>).catch(() => {});
  let exited: number | null = null;
  void proc.exited.then((code) => {
    exited = code;
    signal();
  });
  const fail = (why: string) => new Error(`redis-server (${url}) ${why}:\n${out.trim()}`);

  // 1. The ready line (or an exit, or the deadline): woken by output, no polling.
  while (!sawReady) {
    if (exited !== null) throw fail(`exited with code ${exited} before it was ready`);
    const left = deadline - Date.now();
    if (left <= 0) throw fail(`not ready within ${READY_TIMEOUT_MS / 1000} s`);
    let timer: Timer | undefined;
    await new Promise<void>((res) => {
      signal = res;
      timer = setTimeout(res, left);
    });
    clearTimeout(timer);
  }
  // 2. A PING through Bun's client: short retries bounded by the same deadline.
  let lastErr: unknown = null;
  while (Date.now() < deadline) {
    if (exited !== null) throw fail(`exited with code ${exited}`);
    const client = new RedisClient(url, { autoReconnect: false, connectionTimeout: 1000, enableOfflineQueue: false });
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch (err) {
      lastErr = err;
    } finally {
      client.close();
    }
    await Bun.sleep(25);
  }
  throw fail(`did not answer PING within ${READY_TIMEOUT_MS / 1000} s (${String(lastErr)})`);
}
