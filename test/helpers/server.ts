import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken, type Role } from "../../app/auth/principal";
import { loadSigningKey } from "../../app/auth/signing-key";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface TestServer {
  port: number;
  http: string;
  ws: string;
  dataDir: string;
  proc: ReturnType<typeof Bun.spawn>;
  token(sub: string, role: Role, telescopes?: string[], ttlSec?: number): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number>;
  /** Everything the server wrote to stderr (its JSON log) so far. */
  logs(): string;
}

/** Children still running after a test file's tests (one that failed before stopping its server) are killed by pid
 * from test/preload.ts, so that no server outlives the run. */
const children = new Set<ReturnType<typeof Bun.spawn>>();
export function killStrays(): void {
  for (const p of children) p.kill("SIGKILL");
  children.clear();
}

/** Registers a child process for that clean-up. */
export function track(proc: ReturnType<typeof Bun.spawn>): void {
  children.add(proc);
  void proc.exited.then(() => children.delete(proc));
}

export function tempDir(prefix = "skynode-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts `bun app/main.ts serve` on an ephemeral port with a fresh data dir (or the given one) and resolves when
 * it prints its `listening on` line. */
export async function startServer(opts: { config?: string; dataDir?: string; args?: string[]; exec?: string[] } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  // `exec`: what runs the CLI instead of `bun app/main.ts` (a compiled binary, perhaps under an emulator).
  const cli = opts.exec ?? [process.execPath, "app/main.ts"];
  const args = ["serve", "--port", "0", "--host", "127.0.0.1", "--data", dataDir, ...(opts.args ?? [])];
  if (opts.config !== undefined) {
    const path = join(dataDir, "config.toml");
    writeFileSync(path, opts.config);
    args.push("--config", path);
  }
  const proc = Bun.spawn([...cli, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  track(proc);
  let stderr = "";
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
  })();
  const port = await readListeningPort(proc, () => stderr);
  const key = loadSigningKey(dataDir);
  const server: TestServer = {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    dataDir,
    proc,
    token: (sub, role, telescopes, ttlSec) => issueToken(key, { sub, role, telescopes, ttlSec }),
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
    logs: () => stderr,
  };
  return server;
}

async function readListeningPort(proc: ReturnType<typeof Bun.spawn>, stderr: () => string): Promise<number> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before listening (code ${await proc.exited}):\n${out}\n${stderr()}`);
      out += new TextDecoder().decode(value);
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        // Keep draining stdout so the child never blocks on a full pipe.
        void (async () => {
          while (!(await reader.read()).done);
        })();
        return Number(m[1]);
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
