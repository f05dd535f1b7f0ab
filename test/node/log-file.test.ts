// The SkyNode's log file on a filesystem that fills up: the write error never escapes, the owner is told, and the
// file takes lines again by itself once there is space. A real full filesystem (tmpfs: the test runs as root).
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { LogFile, type LogFileState } from "../../app/node/log-file";
import { freshDirs } from "../helpers/temp-dirs";
import { until } from "../helpers/poll";

const mounts = new Set<string>();
afterAll(() => {
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
});
const fresh = freshDirs();


describe("the log file on a full disk", () => {
  test("a write error degrades logging, says so, and recovers", async () => {
    const mount = fresh();
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]);
    expect(mounted.exitCode, `mount tmpfs: ${mounted.stderr.toString()}`).toBe(0);
    mounts.add(mount);
    const states: LogFileState[] = [];
    let heard: (s: LogFileState) => void = () => {};
    const file = new LogFile(mount, (s) => {
      states.push(s);
      heard(s);
    });
    const next = (ok: boolean, timeoutMs: number) =>
      new Promise<LogFileState>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${ok ? "recovery" : "failure"} within ${timeoutMs} ms: ${JSON.stringify(states)}`)), timeoutMs);
        heard = (s) => {
          if (s.ok !== ok) return;
          clearTimeout(timer);
          resolve(s);
        };
      });
    const log = pino({ base: null }, file.stream as pino.DestinationStream);
    log.info("before");
    await until("the first line in the file", () => readFileSync(file.path, "utf8").includes('"msg":"before"'));

    const filler = join(mount, "filler");
    const fd = openSync(filler, "w");
    try {
      for (const size of [1 << 16, 512]) {
        try {
          while (true) writeSync(fd, new Uint8Array(size));
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
        }
      }
    } finally {
      closeSync(fd);
    }
    const failed = next(false, 10_000);
    // Lines enough to need new pages whatever room the file's last page had.
    const line = "x".repeat(1000);
    for (let i = 0; i < 50; i++) log.info({ i, line }, "while full");
    const failure = await failed;
    expect(failure).toMatchObject({ ok: false });
    expect((failure as { error: string }).error).toContain("ENOSPC");
    for (let i = 0; i < 10; i++) log.info("dropped while full");

    const recovered = next(true, 15_000);
    rmSync(filler);
    const back = await recovered;
    expect((back as { dropped: number }).dropped).toBeGreaterThanOrEqual(10);
    log.info("after");
    await until("the line after recovery in the file", () => readFileSync(file.path, "utf8").includes('"msg":"after"'));
    file.close();
    const text = readFileSync(file.path, "utf8");
    expect(text).toContain('"msg":"before"');
    expect(text).toContain("log file writable again");
    Bun.spawnSync(["umount", "-l", mount]);
    mounts.delete(mount);
  }, 30_000);
});
