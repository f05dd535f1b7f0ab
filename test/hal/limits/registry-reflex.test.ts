// The registry wires each limit switch's reflex to its axis' serial line: the stop bytes for that axis' channel,
// behind the mount port's shared wire, and a latch of its own on that line. (The simulated chip records reflexes; the
// chardev chip hands them to its reader thread, tested in reflex.test.ts.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../../../app/config/load";
import { silentLog } from "../../../hal/log";
import { createDevices, type Devices } from "../../../hal/registry";
import { SerialPort } from "../../../hal/serial/port";
import { SimGpioChip } from "../../../hal/sim/gpio-chip";
import { SyntaBoard } from "../../../hal/sim/synta-board";
import { PtyPair } from "../../helpers/pty";

let pair: PtyPair;
let boardPort: SerialPort;
let devices: Devices | null = null;

beforeAll(async () => {
  pair = await PtyPair.open();
  boardPort = new SerialPort({ path: pair.b, baudRate: 9600, name: "board serial port" });
  await boardPort.whenConnected(5000);
  new SyntaBoard({ slewRateDegS: 10, accelDegS2: 20 }).attach(boardPort);
});

afterAll(async () => {
  await devices?.close();
  await boardPort.close();
  await pair.close();
});

test("each switch on a serial mount gets its axis' instant stop as a reflex with a latch; an analytic simulated mount's get none", async () => {
  const scene = { pointing: () => null, focuserPosition: () => 0, throughput: () => 1 };
  const config = parseConfig(
    `limits = [{ name = "ra-west", axis = "ra", direction = "positive", chip = "sim", line = 5 }, ` +
      `{ name = "dec-south", axis = "dec", direction = "negative", chip = "sim", line = 6 }]\n` +
      `[mount]\nport = "${pair.a}"\n[focuser]\ndriver = "sim"\n`,
  );
  devices = createDevices(config, scene, silentLog);
  await devices.ready;
  expect(devices.mount.ra.connected()).toBe(true);
  const chip = devices.chips[0];
  expect(chip).toBeInstanceOf(SimGpioChip);
  const reflexes = (chip as SimGpioChip).reflexes;
  expect(reflexes.map((r) => [r.offset, new TextDecoder().decode(r.bytes)])).toEqual([
    [5, ":L1\r"],
    [6, ":L2\r"],
  ]);
  // Both on the mount port's line, each with its own latch named after its switch.
  expect(new Set(reflexes.map((r) => r.wire)).size).toBe(1);
  expect(reflexes.map((r) => [r.latch?.label, r.latch?.tripped()])).toEqual([
    ["ra-west", false],
    ["dec-south", false],
  ]);
  await devices.close();
  devices = null;

  // The default mount: the Synta driver over an in-memory pipe to its simulator. No fd for a reader thread to write
  // to, but the line's latches apply all the same.
  const piped = createDevices(parseConfig(""), scene, silentLog);
  expect((piped.chips[0] as SimGpioChip).reflexes.map((r) => [r.offset, new TextDecoder().decode(r.bytes), r.latch?.label])).toEqual([
    [0, ":L1\r", "ra-east"],
    [1, ":L1\r", "ra-west"],
  ]);
  await piped.close();

  const analytic = createDevices(parseConfig(`[mount]\ndriver = "sim"\n`), scene, silentLog);
  expect((analytic.chips[0] as SimGpioChip).reflexes).toEqual([]);
  await analytic.close();
});
