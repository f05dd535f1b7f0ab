// openGpioChip on this machine (no /dev/gpiochip*) and on stand-ins for chips: every way of not finding a chip
// must say what was looked for and what was found, through the real open/ioctl calls.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openGpioChip } from "../../../hal/gpio/chardev";
import { GpioError } from "../../../hal/gpio/uapi";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skynode-gpiochips-"));
  dirs.push(d);
  return d;
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error(`threw a non-Error: ${String(e)}`);
  }
  throw new Error("did not throw");
}

/** Fds open on /dev/null: what a leaked chip fd would be here (other fds come and go with Bun's own threads). */
function devNullFds(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === "/dev/null") n++;
    } catch {
      // the directory's own fd, gone by now
    }
  }
  return n;
}

describe("openGpioChip", () => {
  test("by label on this machine: a clear error naming what exists", () => {
    const chips = readdirSync("/dev").filter((n) => /^gpiochip\d+$/.test(n));
    const err = thrown(() => openGpioChip({ label: "pinctrl-bcm2711-not-here" }));
    if (chips.length === 0) expect(err.message).toBe("no /dev/gpiochip* on this machine");
    else expect(err.message).toStartWith("no GPIO chip labelled 'pinctrl-bcm2711-not-here'; found: /dev/gpiochip");
  });

  test("by a path that does not exist: ENOENT from open()", () => {
    const path = join(tempDir(), "gpiochip0");
    const err = thrown(() => openGpioChip({ path }));
    expect(err).toBeInstanceOf(GpioError);
    expect(err).toMatchObject({ code: "ENOENT", errno: 2, message: `open ${path} failed: No such file or directory (ENOENT)` });
  });

  test("by the path of something that is not a GPIO chip: the ioctl is named, with errno", () => {
    const err = thrown(() => openGpioChip({ path: "/dev/null" }));
    expect(err).toMatchObject({
      code: "ENOTTY",
      errno: 25,
      message: "GPIO_GET_CHIPINFO_IOCTL on /dev/null failed: Inappropriate ioctl for device (ENOTTY)",
    });
  });

  test("scanning by label lists every candidate, in numeric order, with why it did not match", () => {
    const dir = tempDir();
    symlinkSync("/dev/null", join(dir, "gpiochip10"));
    symlinkSync("/dev/null", join(dir, "gpiochip2"));
    symlinkSync(join(dir, "missing"), join(dir, "gpiochip3"));
    writeFileSync(join(dir, "gpiochipX"), ""); // not a chip name: ignored
    writeFileSync(join(dir, "gpiomem"), "");
    const err = thrown(() => openGpioChip({ label: "pinctrl-rp1", dir }));
    expect(err.message).toBe(
      `no GPIO chip labelled 'pinctrl-rp1'; found: ` +
        `${dir}/gpiochip2 (GPIO_GET_CHIPINFO_IOCTL on ${dir}/gpiochip2 failed: Inappropriate ioctl for device (ENOTTY)), ` +
        `${dir}/gpiochip3 (open ${dir}/gpiochip3 failed: No such file or directory (ENOENT)), ` +
        `${dir}/gpiochip10 (GPIO_GET_CHIPINFO_IOCTL on ${dir}/gpiochip10 failed: Inappropriate ioctl for device (ENOTTY))`,
    );
  });

  test("a directory without chips", () => {
    const dir = tempDir();
    expect(thrown(() => openGpioChip({ label: "x", dir })).message).toBe(`no ${dir}/gpiochip* on this machine`);
  });

  test("neither label nor path", () => {
    expect(thrown(() => openGpioChip({})).message).toBe("openGpioChip needs a chip label or a path");
  });

  test("failed opens leave no fd behind", () => {
    const dir = tempDir();
    symlinkSync("/dev/null", join(dir, "gpiochip0"));
    thrown(() => openGpioChip({ label: "x", dir })); // warm up anything opened once
    const before = devNullFds();
    for (let i = 0; i < 50; i++) {
      thrown(() => openGpioChip({ path: "/dev/null" }));
      thrown(() => openGpioChip({ label: "x", dir }));
    }
    expect(devNullFds()).toBe(before);
  });
});
