// The ABI table in hal/gpio/uapi.ts against the installed kernel header: gcc compiles uapi-probe.c, which prints
// sizeof/offsetof of every struct and field we encode, every ioctl number and constant; each must match.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ABI_TABLE } from "../../../hal/gpio/uapi";

const HINT = "install them with: sudo apt-get install -y gcc linux-libc-dev";
const HEADER = "/usr/include/linux/gpio.h";

interface Probe {
  structs: Record<string, { size: number; fields: Record<string, number> }>;
  ioctls: Record<string, number>;
  constants: Record<string, number>;
}

let dir = "";
let probe: Probe;

function run(cmd: string[], what: string): string {
  // spawnSync waits for the process (and kills it at the timeout), so nothing outlives the test.
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`${what} failed (exit ${r.exitCode}): ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}

beforeAll(() => {
  const gcc = Bun.which("gcc");
  if (!gcc) throw new Error(`gcc is missing: the GPIO ABI probe compiles C against <linux/gpio.h>; ${HINT}`);
  if (!existsSync(HEADER)) throw new Error(`${HEADER} is missing (Debian package linux-libc-dev); ${HINT}`);
  dir = mkdtempSync(join(tmpdir(), "skynode-uapi-probe-"));
  const exe = join(dir, "uapi-probe");
  run([gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe, join(import.meta.dir, "uapi-probe.c")], "compiling uapi-probe.c");
  probe = JSON.parse(run([exe], "running uapi-probe")) as Probe;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("uAPI v2 layout matches <linux/gpio.h>", () => {
  test("the probe and the table describe the same structs, ioctls and constants", () => {
    expect(Object.keys(probe.structs).sort()).toEqual(Object.keys(ABI_TABLE.structs).sort());
    expect(Object.keys(probe.ioctls).sort()).toEqual(Object.keys(ABI_TABLE.ioctls).sort());
    expect(Object.keys(probe.constants).sort()).toEqual(Object.keys(ABI_TABLE.constants).sort());
  });

  for (const [name, layout] of Object.entries(ABI_TABLE.structs)) {
    test(`struct ${name}: size ${layout.size} and every field offset`, () => {
      expect(probe.structs[name]).toEqual({ size: layout.size, fields: { ...layout.fields } });
    });
  }

  test("every ioctl number (computed in TS from dir, size, 0xB4, nr)", () => {
    for (const [name, value] of Object.entries(ABI_TABLE.ioctls)) {
      expect({ name, value: probe.ioctls[name] }).toEqual({ name, value });
    }
  });

  test("every constant: sizes, line flags, attribute ids, event ids", () => {
    for (const [name, value] of Object.entries(ABI_TABLE.constants)) {
      expect({ name, value: probe.constants[name] }).toEqual({ name, value });
    }
  });

  test("the numbers HARDWARE.md §3 quotes", () => {
    expect(ABI_TABLE.ioctls.GPIO_GET_CHIPINFO_IOCTL).toBe(0x8044b401);
    expect(ABI_TABLE.ioctls.GPIO_V2_GET_LINEINFO_IOCTL).toBe(0xc100b405);
    expect(ABI_TABLE.ioctls.GPIO_V2_GET_LINEINFO_WATCH_IOCTL).toBe(0xc100b406);
    expect(ABI_TABLE.ioctls.GPIO_GET_LINEINFO_UNWATCH_IOCTL).toBe(0xc004b40c);
    expect(ABI_TABLE.ioctls.GPIO_V2_GET_LINE_IOCTL).toBe(0xc250b407);
    expect(ABI_TABLE.ioctls.GPIO_V2_LINE_SET_CONFIG_IOCTL).toBe(0xc110b40d);
    expect(ABI_TABLE.ioctls.GPIO_V2_LINE_GET_VALUES_IOCTL).toBe(0xc010b40e);
    expect(ABI_TABLE.ioctls.GPIO_V2_LINE_SET_VALUES_IOCTL).toBe(0xc010b40f);
  });
});
