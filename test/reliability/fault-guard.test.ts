// The process never dies silently: an unhandled rejection or an uncaught exception puts the hardware in a safe
// state first (the slew in progress stops at once), is logged with its stack, and the process goes on; a storm of
// faults exits non-zero (70) after the safe stop, for systemd to restart it.
import { expect, test } from "bun:test";
import { track } from "../helpers/server";

const ROOT = new URL("../..", import.meta.url).pathname;

test("faults stop the hardware, are logged, and the process goes on until a storm ends it with 70", async () => {
  const proc = Bun.spawn([process.execPath, "test/helpers/fault-guard-child.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  track(proc);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const steps = out.trim().split("\n").map((l) => JSON.parse(l));
  expect(steps).toEqual([
    { step: "rejection", outcome: { arrived: false, reason: expect.stringContaining("unhandled rejection: a stray rejection") }, state: expect.any(String) },
    { step: "exception", outcome: { arrived: false, reason: expect.stringContaining("uncaught exception: a stray throw") } },
  ]);
  expect(code).toBe(70);
  const lines = err.trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []));
  const faults = lines.filter((l) => l.kind === "unhandled rejection" || l.kind === "uncaught exception");
  expect(faults).toHaveLength(3);
  // Each with its stack.
  for (const f of faults) expect(f.err.stack).toContain("fault-guard-child.ts");
  expect(lines.some((l) => l.level === 60 && /3 faults within 60 s/.test(l.why))).toBe(true);
}, 30_000);
