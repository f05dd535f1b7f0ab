// `skynode config check FILE`: validates a config the way serve would, naming each bad key and why.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, tempDir } from "../helpers/server";

const ROOT = new URL("../..", import.meta.url).pathname;
const dir = tempDir("skynode-config-");
afterAll(() => removeDir(dir));

async function check(path: string): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([process.execPath, "app/main.ts", "config", "check", path], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

describe("config check", () => {
  test("a good file: ok, with what it configures", async () => {
    const r = await check(join(ROOT, "deploy/config.example.toml"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("config.example.toml: ok");
    expect(r.out).toMatch(/telescope garden-1; mount synta on \/dev\/serial\/by-id\/\S+; focuser moonlite on \S+; 4 limit switch\(es\)/);
  });

  test("a bad file: every error names its key and why; exit 2", async () => {
    const path = join(dir, "bad.toml");
    writeFileSync(path, '[mount]\nbaud = 9601\ndriver = "nope"\n[sever]\nport = 1\n');
    const r = await check(path);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${path} is invalid:`);
    expect(r.err).toContain("mount.driver: Invalid option");
    expect(r.err).toContain("mount.baud: not a standard baud rate");
    expect(r.err).toContain('Unrecognized key: "sever"');
  });

  test("not TOML, or no such file: exit 2 with the reason", async () => {
    const path = join(dir, "broken.toml");
    writeFileSync(path, "[mount\n");
    expect(await check(path)).toMatchObject({ code: 2, err: expect.stringContaining("not valid TOML") });
    expect(await check(join(dir, "missing.toml"))).toMatchObject({ code: 2, err: expect.stringContaining("config file not found") });
  });
});
