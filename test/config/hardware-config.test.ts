// The hardware part of the config: the deploy examples validate as shipped, and mistakes in serial and limit-switch
// settings are errors that name the key and say why.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigError, parseConfig } from "../../app/config/load";

const ROOT = new URL("../..", import.meta.url).pathname;
const error = (toml: string): string => {
  try {
    parseConfig(toml, "test.toml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("the config was accepted");
};

describe("deploy examples", () => {
  test("deploy/config.example.toml: a real board, serial devices by id, four switches on the Pi's GPIO chip", () => {
    const c = parseConfig(readFileSync(`${ROOT}deploy/config.example.toml`, "utf8"), "config.example.toml");
    expect(c.mount).toMatchObject({ driver: "synta", baud: 9600, timeout_ms: 1000, retries: 3 });
    expect(c.mount.port).toStartWith("/dev/serial/by-id/");
    expect(c.focuser).toMatchObject({ driver: "moonlite", timeout_ms: 3000, retries: 2 });
    expect(c.limits.map((l) => `${l.name} ${l.axis} ${l.direction} ${l.chip}:${l.line}`)).toEqual([
      "ra-east ra negative pinctrl-bcm2711:17",
      "ra-west ra positive pinctrl-bcm2711:27",
      "dec-north dec positive pinctrl-bcm2711:22",
      "dec-south dec negative pinctrl-bcm2711:23",
    ]);
    for (const l of c.limits) expect(l).toMatchObject({ active_low: true, bias: "pull-up", debounce_us: 2000 });
  });

  test("deploy/pty-sim.toml: the real drivers on two pty paths, no switches", () => {
    const c = parseConfig(readFileSync(`${ROOT}deploy/pty-sim.toml`, "utf8"), "pty-sim.toml");
    expect(c.mount).toMatchObject({ driver: "synta", port: "/tmp/skynode-mount" });
    expect(c.focuser).toMatchObject({ driver: "moonlite", port: "/tmp/skynode-focuser" });
    expect(c.limits).toEqual([]);
  });

  test("no config: real protocol drivers on simulators, and the simulated chip's two RA switches", () => {
    const c = parseConfig("");
    expect(c.mount.driver).toBe("synta");
    expect(c.mount.port).toBeUndefined();
    expect(c.focuser.driver).toBe("moonlite");
    expect(c.limits.map((l) => [l.name, l.chip, l.sim_at_deg])).toEqual([
      ["ra-east", undefined, -190],
      ["ra-west", undefined, 190],
    ]);
  });
});

describe("mistakes are named", () => {
  test("serial settings: a baud rate no UART has, an unknown parity, a misspelt key", () => {
    const msg = error(`limits = []\n[mount]\nport = "/dev/ttyUSB0"\nbaud = 9601\nparity = "mark"\nstopbits = 1\n`);
    expect(msg).toContain("mount.baud: not a standard baud rate: one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400");
    expect(msg).toContain('mount.parity: Invalid option: expected one of "none"|"even"|"odd"');
    expect(msg).toContain('mount: Unrecognized key: "stopbits"');
  });

  test("a limit switch: a direction that is not one, a line off the chip; two switches on one line or name", () => {
    const msg = error(
      `[[limits]]\naxis = "ra"\ndirection = "up"\nchip = "pinctrl-bcm2711"\nline = 3\n` +
        `[[limits]]\naxis = "dec"\ndirection = "positive"\nchip = "pinctrl-bcm2711"\nline = 4096\n`,
    );
    expect(msg).toContain('limits.0.direction: Invalid option: expected one of "positive"|"negative"');
    expect(msg).toContain("limits.1.line: Too big");
    const twice = error(
      `[[limits]]\naxis = "ra"\ndirection = "negative"\nchip = "pinctrl-bcm2711"\nline = 3\n` +
        `[[limits]]\nname = "dec-2"\naxis = "dec"\ndirection = "negative"\nchip = "pinctrl-bcm2711"\nline = 3\n` +
        `[[limits]]\nname = "ra-negative"\naxis = "ra"\ndirection = "positive"\nchip = "pinctrl-bcm2711"\nline = 5\n`,
    );
    expect(twice).toContain("limits.1.line: line pinctrl-bcm2711 line 3 is already used by limits[0]");
    expect(twice).toContain("limits.2.name: name ra-negative is already used by limits[0]");
  });

  test("a real mount with the default simulated switches is refused, with the way out", () => {
    const msg = error(`[mount]\nport = "/dev/ttyUSB0"\n`);
    expect(msg).toContain("limits.0.chip");
    expect(msg).toContain("limits = []");
    // Named explicitly, the simulated chip is allowed (benchmarks drive its lines by software).
    const c = parseConfig(`limits = [{ axis = "ra", direction = "negative", chip = "sim", line = 0 }]\n[mount]\nport = "/dev/ttyUSB0"\n`);
    expect(c.limits[0]).toMatchObject({ name: "ra-negative", chip: "sim", line: 0, debounce_us: 1000 });
  });
});
