import { describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, startServer, tempDir } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";

const ROOT = new URL("../..", import.meta.url).pathname;
const run = (args: string[], env: Record<string, string> = {}) => {
  const p = Bun.spawnSync([process.execPath, "app/main.ts", ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

describe("CLI", () => {
  test("token issue prints a token the server accepts, signed with the data dir's 0600 key", async () => {
    const dataDir = tempDir();
    const issued = run(["token", "issue", "--sub", "alice", "--role", "viewer", "--ttl", "1h"], { SKYNODE_DATA: dataDir });
    expect(issued.code).toBe(0);
    const token = issued.out.trim();
    expect(token.split(".")).toHaveLength(3);
    expect(statSync(join(dataDir, "signing.key")).mode & 0o777).toBe(0o600);
    const server = await startServer({ dataDir });
    const c = await TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`);
    expect(await c.request({ kind: "ping", id: "1" })).toEqual({ kind: "pong", id: "1" });
    c.close();
    expect(await server.stop()).toBe(0);
    removeDir(dataDir);
  });

  test("token issue refuses bad arguments with a clear message", () => {
    const dataDir = tempDir();
    expect(run(["token", "issue", "--role", "viewer", "--data", dataDir])).toMatchObject({ code: 2, err: expect.stringContaining("--sub") });
    expect(run(["token", "issue", "--sub", "a", "--role", "king", "--data", dataDir])).toMatchObject({ code: 2, err: expect.stringContaining("--role") });
    expect(run(["token", "issue", "--sub", "n", "--role", "skynode", "--data", dataDir])).toMatchObject({ code: 2, err: expect.stringContaining("exactly one telescope") });
    expect(run(["token", "issue", "--sub", "n", "--role", "viewer", "--ttl", "0", "--data", dataDir])).toMatchObject({ code: 2, err: expect.stringContaining("at least 1 s") });
    expect(run(["token", "issue", "--sub", "n", "--role", "viewer", "--ttl", "forever", "--data", dataDir])).toMatchObject({ code: 2, err: expect.stringContaining("bad ttl") });
    const usage = run(["frobnicate"]);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain("usage");
    expect(usage.err).toContain("[--ttl 30d|8h|never]");
    removeDir(dataDir);
  });

  test("serve refuses an invalid config, naming each bad key", () => {
    const dataDir = tempDir();
    const path = join(dataDir, "bad.toml");
    writeFileSync(path, `[mount]\ndriver = "celestron"\nbaud = "fast"\n[servre]\nport = 1\n`);
    const r = run(["serve", "--port", "0", "--data", dataDir, "--config", path]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("mount.driver");
    expect(r.err).toContain("mount.baud");
    expect(r.err).toContain("servre");
    removeDir(dataDir);
  });

  test("serve takes host/port/data from the environment and exits 0 on SIGTERM", async () => {
    const dataDir = tempDir();
    const proc = Bun.spawn([process.execPath, "app/main.ts", "serve"], {
      cwd: ROOT,
      env: { ...process.env, SKYNODE_PORT: "0", SKYNODE_HOST: "127.0.0.1", SKYNODE_DATA: dataDir },
      stdout: "pipe",
      stderr: "ignore",
    });
    const reader = proc.stdout.getReader();
    let out = "";
    while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`exited: ${out}`);
      out += new TextDecoder().decode(value);
    }
    expect(statSync(join(dataDir, "skynode.db")).isFile()).toBe(true);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    removeDir(dataDir);
  });
});
