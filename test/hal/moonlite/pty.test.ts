// The Moonlite driver and the simulated controller each on a real serial port, joined by a socat pty pair: moves
// arrive exactly over a real tty, and killing socat (the cable pulled) then restarting it (replugged) takes the
// focuser offline and back, re-initialised.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { MoonliteFocuser } from "../../../hal/moonlite/focuser";
import { SerialPort } from "../../../hal/serial/port";
import { MoonliteDevice } from "../../../hal/sim/moonlite-device";
import { PtyPair } from "../../helpers/pty";

let pair: PtyPair;
let hostPort: SerialPort;
let devicePort: SerialPort;
let focuser: MoonliteFocuser;
const device = new MoonliteDevice({ position: 1000, stepsPerS: 2000 });

beforeAll(async () => {
  pair = await PtyPair.open();
  hostPort = new SerialPort({ path: pair.a, baudRate: 9600, reopenMs: 50, name: "focuser serial port" });
  devicePort = new SerialPort({ path: pair.b, baudRate: 9600, reopenMs: 50, name: "controller serial port" });
  device.attach(devicePort);
  await Promise.all([hostPort.whenConnected(5000), devicePort.whenConnected(5000)]);
  focuser = new MoonliteFocuser(hostPort, {
    stepUm: 1.5,
    minUm: 0,
    maxUm: 30_000,
    pollMs: { moving: 20, idle: 100 },
    timeoutMs: 300,
    retries: 2,
  });
});

afterAll(async () => {
  focuser?.close();
  await Promise.all([hostPort?.close(), devicePort?.close()]);
  await pair?.close(); // kills socat by its pid
});

/** Resolves once `ok()` holds, re-checking on every change; fails after `ms`. */
function until(ok: () => boolean, what: string, ms = 10_000): Promise<void> {
  if (ok()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for: ${what}`));
    }, ms);
    const off = focuser.changed.on(() => {
      if (!ok()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

describe("MoonliteFocuser over a pty pair", () => {
  test("initialises and moves both ways exactly", async () => {
    await focuser.init();
    expect(focuser.firmware).toEqual({ version: "10", halfStep: false, stepDelay: 2 });
    expect(focuser.status().position).toBe(1500);
    expect(await focuser.moveTo(2250)).toEqual({ arrived: true });
    expect(device.position()).toBe(1500);
    expect(await focuser.moveTo(600)).toEqual({ arrived: true });
    expect(device.position()).toBe(400);
    expect(focuser.status()).toEqual({ position: 600, target: null, state: "idle", rate: 0 });
  });

  test("unplugged: the move ends and moves are refused; replugged: re-initialised and working", async () => {
    const move = focuser.moveTo(15_000); // 9600 steps: ≈ 5 s at 2000 steps/s
    await until(() => focuser.status().state === "moving" && device.position() > 410, "the move under way");
    await pair.stop();
    expect(await move).toEqual({ arrived: false, reason: "focuser disconnected" });
    expect(focuser.connected()).toBe(false);
    const refused = await focuser.moveTo(3000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeviceError);
    expect((refused as DeviceError).kind).toBe("disconnected");

    await pair.restart();
    await until(() => focuser.connected(), "reconnected and re-initialised");
    // The controller was never told to stop: it carries on, and the driver shows that motion until it halts it.
    await focuser.stop();
    expect(device.moving()).toBe(false);
    expect(focuser.status().position).toBe(device.position() * 1.5);
    expect(await focuser.moveTo(3000)).toEqual({ arrived: true });
    expect(device.position()).toBe(2000);
  });
});
