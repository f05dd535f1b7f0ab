// The Moonlite focuser driver against the simulated controller over an in-memory pipe: init, exact moves both ways,
// supersede, stop, range refusal, temperature, a controller that stops answering, and a cable pulled and replugged.
import { afterEach, describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { MoonliteFocuser, type MoonliteFocuserOptions } from "../../../hal/moonlite/focuser";
import type { MotionStatus } from "../../../hal/motion";
import { pipePair } from "../../../hal/serial/pipe";
import { MoonliteDevice, type MoonliteDeviceOptions } from "../../../hal/sim/moonlite-device";

const STEP_UM = 2;
const open: MoonliteFocuser[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.close();
});

function rig(device: Partial<MoonliteDeviceOptions> = {}, driver: Partial<MoonliteFocuserOptions> = {}) {
  const dev = new MoonliteDevice({ position: 1000, stepsPerS: 2000, temperatureC: 14.5, ...device });
  const [host, end] = pipePair(["focuser link", "controller"]);
  dev.attach(end);
  const focuser = new MoonliteFocuser(host, {
    stepUm: STEP_UM,
    minUm: 0,
    maxUm: 20_000,
    pollMs: { moving: 20, idle: 200 },
    temperatureMs: 300,
    ...driver,
  });
  open.push(focuser);
  return { dev, host, focuser };
}

/** Resolves once `ok()` holds, re-checking on every change; fails the test after `ms`. */
function until(f: MoonliteFocuser, ok: () => boolean, what: string, ms = 10_000): Promise<void> {
  if (ok()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for: ${what}`));
    }, ms);
    const off = f.changed.on(() => {
      if (!ok()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

async function refusal(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return e as DeviceError;
  }
  throw new Error("expected a refusal");
}

describe("MoonliteFocuser", () => {
  test("init reads the controller; positions are steps × stepUm", async () => {
    const { focuser } = rig({ version: "21" });
    expect(focuser.connected()).toBe(false);
    await focuser.init();
    expect(focuser.connected()).toBe(true);
    expect(focuser.firmware).toEqual({ version: "21", halfStep: false, stepDelay: 2 });
    expect(focuser.status()).toEqual({ position: 2000, target: null, state: "idle", rate: 0 });
    expect(focuser.stepSize).toBe(STEP_UM);
    expect(focuser.range).toEqual({ min: 0, max: 20_000 });
    await focuser.init(); // already ready: resolves at once
  });

  test("moves out and back in, arriving exactly, reporting moving then idle", async () => {
    const { dev, focuser } = rig();
    await focuser.init();
    const seen: MotionStatus[] = [];
    focuser.changed.on(() => seen.push(focuser.status()));

    expect(await focuser.moveTo(3000)).toEqual({ arrived: true });
    expect(dev.position()).toBe(1500);
    expect(focuser.status()).toEqual({ position: 3000, target: null, state: "idle", rate: 0 });
    const out = seen.filter((s) => s.state === "moving");
    expect(out.length).toBeGreaterThan(0);
    for (const s of out) {
      expect(s.target).toBe(3000);
      expect(s.rate).toBeGreaterThan(0);
      expect(s.position).toBeGreaterThanOrEqual(2000);
      expect(s.position).toBeLessThanOrEqual(3000);
    }

    seen.length = 0;
    expect(await focuser.moveTo(1234)).toEqual({ arrived: true });
    expect(dev.position()).toBe(617);
    expect(focuser.status().position).toBe(1234);
    expect(seen.some((s) => s.state === "moving" && s.rate < 0 && s.target === 1234)).toBe(true);

    // Already there: nothing to wait for.
    expect(await focuser.moveTo(1234)).toEqual({ arrived: true });
  });

  test("a position between steps goes to the nearest step", async () => {
    const { dev, focuser } = rig();
    await focuser.init();
    expect(await focuser.moveTo(2501.2)).toEqual({ arrived: true });
    expect(dev.position()).toBe(1251);
    expect(focuser.status().position).toBe(2502);
  });

  test("a new move supersedes one in progress", async () => {
    const { dev, focuser } = rig({ stepsPerS: 500 });
    await focuser.init();
    const first = focuser.moveTo(19_000);
    await until(focuser, () => dev.position() > 1010, "the first move under way");
    const second = focuser.moveTo(1800);
    expect(await first).toEqual({ arrived: false, reason: "superseded by a new move" });
    expect(await second).toEqual({ arrived: true });
    expect(dev.position()).toBe(900);
    expect(focuser.status().position).toBe(1800);
  });

  test("stop halts the motor and resolves once it is still; the move reports why it ended", async () => {
    const { dev, focuser } = rig({ stepsPerS: 500 });
    await focuser.init();
    const move = focuser.moveTo(19_000);
    await until(focuser, () => focuser.status().state === "moving" && dev.position() > 1010, "moving");
    await focuser.stop();
    expect(await move).toEqual({ arrived: false, reason: "stop requested" });
    expect(dev.moving()).toBe(false);
    const s = focuser.status();
    expect(s.state).toBe("idle");
    expect(s.position).toBe(dev.position() * STEP_UM);
    expect(dev.position()).toBeLessThan(9500);
    // Stopping an idle focuser is harmless.
    await focuser.stop("again");
  });

  test("refuses positions outside the configured travel without moving", async () => {
    const { dev, focuser } = rig();
    await focuser.init();
    for (const bad of [-1, 20_000.5, Number.NaN]) expect((await refusal(focuser.moveTo(bad))).kind).toBe("range");
    expect(dev.moving()).toBe(false);
    expect(dev.position()).toBe(1000);
  });

  test("refuses a configured travel that runs past the 16-bit step counter", async () => {
    const { dev, focuser } = rig({}, { maxUm: 200_000 });
    await focuser.init();
    const err = await refusal(focuser.moveTo(150_000));
    expect(err.kind).toBe("range");
    expect(err.details).toEqual({ position: 150_000, step: 75_000 });
    expect(dev.position()).toBe(1000);
  });

  test("a move the controller cannot finish ends short, saying where it stopped", async () => {
    const { dev, focuser } = rig({ maxStep: 1200 });
    await focuser.init();
    expect(await focuser.moveTo(12_000)).toEqual({
      arrived: false,
      reason: "focuser stopped at 2400 µm, short of its target 12000 µm",
    });
    expect(dev.position()).toBe(1200);
    expect(focuser.status()).toMatchObject({ position: 2400, state: "idle", target: null });
  });

  test("temperature is null until measured, then follows the probe", async () => {
    const { dev, focuser } = rig();
    expect(focuser.temperature()).toBeNull();
    await until(focuser, () => focuser.temperature() !== null, "a first temperature");
    expect(focuser.temperature()).toBe(14.5);
    dev.setTemperature(-4.1);
    await until(focuser, () => focuser.temperature() === -4, "the new temperature");
  });

  test("a controller that stops answering takes the focuser offline until it answers again", async () => {
    const { dev, focuser } = rig({}, { timeoutMs: 50, retries: 1 });
    await focuser.init();
    const move = focuser.moveTo(19_000);
    dev.mute(true);
    expect(await move).toEqual({ arrived: false, reason: "focuser not answering" });
    expect(focuser.connected()).toBe(false);
    expect((await refusal(focuser.moveTo(2000))).kind).toBe("disconnected");
    expect((await refusal(focuser.init())).kind).toBe("fault");
    dev.mute(false);
    await until(focuser, () => focuser.connected(), "back online");
    await focuser.stop();
    expect(await focuser.moveTo(2400)).toEqual({ arrived: true });
    expect(dev.position()).toBe(1200);
  });

  test("a pulled cable ends the move and refuses new ones; replugged, it re-reads the controller and works", async () => {
    const { dev, host, focuser } = rig({ stepsPerS: 500 });
    await focuser.init();
    const move = focuser.moveTo(2800); // 400 steps: 0.8 s
    await until(focuser, () => dev.position() > 1010, "the move under way");
    host.sever();
    expect(await move).toEqual({ arrived: false, reason: "focuser disconnected" });
    expect(focuser.connected()).toBe(false);
    expect((await refusal(focuser.moveTo(2000))).kind).toBe("disconnected");
    expect((await refusal(focuser.init())).kind).toBe("disconnected");
    await focuser.stop(); // nothing to reach: resolves at once
    expect(focuser.status()).toMatchObject({ state: "idle", target: null });

    // The controller carries on with the move while the cable is out; the driver finds it moving when back.
    host.restore();
    await until(focuser, () => focuser.connected(), "re-initialised");
    await until(focuser, () => focuser.status().state === "idle" && !dev.moving(), "the controller's move seen to its end");
    expect(dev.position()).toBe(1400);
    expect(focuser.status().position).toBe(2800);
    expect(await focuser.moveTo(3000)).toEqual({ arrived: true });
    expect(dev.position()).toBe(1500);
  });
});
