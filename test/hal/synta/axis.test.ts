// The Synta mount-axis driver against the simulated board over an in-memory pipe: initialisation, gotos that land on
// the exact step, supersede, stop and instant stop, tracking by step period with rate updates that only re-time the
// motor, direction changes that restart it, and losing and regaining the link.
import { afterEach, describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { pipePair } from "../../../hal/serial/pipe";
import { decodeU24 } from "../../../hal/synta/codec";
import { axisRig, SIDEREAL_DEG_S, until } from "./rig";

const CPR = 9_024_000;
const stepsOf = (deg: number) => Math.round((deg * CPR) / 360);
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function rig(opts: Parameters<typeof axisRig>[2] = {}) {
  const [driverEnd, boardEnd] = pipePair(["mount link", "simulated board"]);
  const r = axisRig(driverEnd, boardEnd, opts);
  cleanups.push(r.close);
  return { ...r, driverEnd, boardEnd };
}

async function ready(opts: Parameters<typeof axisRig>[2] = {}) {
  const r = rig(opts);
  await r.axis.init();
  return r;
}

describe("SyntaAxis", () => {
  test("init reads the geometry, energises the motor, and reports the home angle", async () => {
    const { axis, board, rec } = rig({ axis: { home_deg: 90, name: "dec", min: -90, max: 90 } });
    expect(axis.connected()).toBe(false);
    await axis.init();
    expect(axis.connected()).toBe(true);
    expect(board.initialized(1)).toBe(true);
    expect(rec.all.slice(0, 8).map((c) => c.cmd + c.axis)).toEqual(["e1", "a1", "b1", "g1", "f1", "F1", "f1", "j1"]);
    expect(axis.status()).toEqual({ position: 90, target: null, state: "idle", rate: 0 });
  });

  test("an already initialised board is not energised again", async () => {
    const { axis, board, rec, client } = rig();
    await client.request("F", "3");
    const mark = rec.mark();
    await axis.init();
    expect(rec.since(mark).slice(0, 6).map((c) => c.cmd)).toEqual(["e", "a", "b", "g", "f", "j"]);
    expect(rec.since(mark).some((c) => c.cmd === "F")).toBe(false);
    expect(board.initialized(1)).toBe(true);
  });

  test("gotos in both directions land on the exact step; states go moving → idle", async () => {
    const { axis, board } = await ready();
    const states: string[] = [];
    axis.changed.on(() => {
      const s = axis.status().state;
      if (states.at(-1) !== s) states.push(s);
    });
    const first = axis.moveTo(10);
    expect(axis.status()).toMatchObject({ state: "moving", target: 10 });
    expect(await first).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(10));
    expect(board.moving(1)).toBe(false);
    expect(Math.abs(axis.status().position - 10)).toBeLessThan(360 / CPR);
    expect(await axis.moveTo(-5.5)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(-5.5));
    expect(axis.status()).toMatchObject({ state: "idle", target: null, rate: 0 });
    expect(states).toEqual(["moving", "idle", "moving", "idle"]);
    // A short move is a low-speed goto (mode 2) and lands as exactly.
    expect(await axis.moveTo(-5.49)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(-5.49));
    // Already there: resolves at once.
    expect(await axis.moveTo(-5.49)).toEqual({ arrived: true });
  });

  test("a reversed axis counts steps the other way", async () => {
    const { axis, board } = await ready({ axis: { name: "dec", home_deg: 90, min: -90, max: 90, reverse: true } });
    expect(await axis.moveTo(80)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(10));
    expect(Math.abs(board.angleDeg(1, 90, true) - 80)).toBeLessThan(360 / CPR);
    expect(axis.status().position).toBe(board.angleDeg(1, 90, true));
  });

  test("a new move supersedes the one in progress", async () => {
    const { axis, board } = await ready();
    const first = axis.moveTo(30);
    await until(board.motion, () => board.moving(1), 2000, "the first goto to start");
    const second = axis.moveTo(-10);
    expect(await first).toEqual({ arrived: false, reason: "superseded by a new move" });
    expect(await second).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(-10));
  });

  test("stop decelerates; it resolves once the board is still, and the move says why it ended", async () => {
    const { axis, board } = await ready();
    const move = axis.moveTo(60);
    await until([board.motion, axis.changed], () => board.steps(1) > stepsOf(1), 2000, "the goto to be under way");
    const stopped = axis.stop("stopped by the test");
    expect(axis.status().state).toBe("stopping");
    expect(await move).toEqual({ arrived: false, reason: "stopped by the test" });
    await stopped;
    expect(board.moving(1)).toBe(false);
    expect(axis.status().state).toBe("idle");
    const at = board.steps(1);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(stepsOf(60));
    expect(await axis.stop()).toBeUndefined(); // still: resolves at once
  });

  test("halt puts the instant stop on the wire at once; the axis stays still", async () => {
    const { axis, board, rec } = await ready();
    const move = axis.moveTo(60);
    await until([board.motion, axis.changed], () => board.moving(1) && board.steps(1) > stepsOf(1), 3000, "the slew to be under way");
    const mark = rec.mark();
    const lSeen = rec.next("L", "1", mark);
    axis.halt("ra limit switch tripped");
    const l = await lSeen;
    // The board had stopped dead by the time it answered L.
    expect(board.moving(1)).toBe(false);
    expect(await move).toEqual({ arrived: false, reason: "ra limit switch tripped" });
    // Nothing written after the halt restarts the motor; polls confirm it still.
    await until(axis.changed, () => axis.status().state === "idle", 2000, "idle after the halt");
    expect(rec.motion(mark)).toEqual(["L"]);
    const at = board.steps(1);
    expect(axis.status().position).toBeCloseTo((at * 360) / CPR, 9);
    expect(l.at).toBeGreaterThan(0);
  });

  test("tracking at sidereal uses step period ≈ 620 on HEQ5 gearing, and status follows the sky smoothly", async () => {
    const { axis, board, rec } = await ready({ board: { firmware: "020301" } });
    const mark = rec.mark();
    axis.track(SIDEREAL_DEG_S);
    expect(axis.status().state).toBe("tracking");
    await rec.next("J", "1", mark);
    expect(rec.motion(mark)).toEqual(["G10", `I${"6C0200"}`, "J"]);
    expect(decodeU24("6C0200")).toBe(620);
    await until(axis.changed, () => axis.status().rate !== 0, 1000, "the driver to take the rate");
    await Bun.sleep(5); // the board's 0.1 ms acceleration ramp (no event marks its end)
    expect(board.stepsPerSecond(1)).toBeCloseTo(64_935 / 620, 3);
    expect(axis.status().rate).toBeCloseTo(SIDEREAL_DEG_S, 6);
    // Between 1 Hz polls the reported position advances with the rate and stays with the board's.
    let last = axis.status().position;
    for (let i = 0; i < 5; i++) {
      await Bun.sleep(60);
      const p = axis.status().position;
      expect(p).toBeGreaterThan(last);
      expect(Math.abs(p - board.angleDeg(1, 0))).toBeLessThan(2 / 3600);
      last = p;
    }
  });

  test("tracking rate updates only re-time the motor; only the latest of a burst is applied", async () => {
    const { axis, board, rec } = await ready();
    axis.track(SIDEREAL_DEG_S);
    await rec.next("J");
    let mark = rec.mark();
    axis.track(SIDEREAL_DEG_S * 1.01);
    axis.track(SIDEREAL_DEG_S * 1.02);
    axis.track(SIDEREAL_DEG_S * 1.5);
    const i = await rec.next("I", "1", mark);
    expect(decodeU24(i.data)).toBe(Math.round(620.02 / 1.5));
    mark = rec.mark();
    axis.track(SIDEREAL_DEG_S * 0.9);
    await rec.next("I", "1", mark);
    // A few polls later: still nothing but I (no stop, no restart).
    await until(board.received, () => rec.since(mark).filter((c) => c.cmd === "f").length >= 2, 5000, "two polls");
    expect(rec.motion(mark)).toEqual([expect.stringMatching(/^I/)]);
    expect(board.stepsPerSecond(1)).toBeCloseTo(64_935 / Math.round(620.02 / 0.9), 3);
  });

  test("a change of direction stops, re-sets the mode, and restarts", async () => {
    const { axis, board, rec } = await ready();
    axis.track(SIDEREAL_DEG_S * 2);
    await rec.next("J");
    const mark = rec.mark();
    axis.track(-SIDEREAL_DEG_S * 2);
    await rec.next("J", "1", mark);
    expect(rec.motion(mark)).toEqual(["K", "G11", expect.stringMatching(/^I/), "J"]);
    await until([board.motion, axis.changed], () => board.stepsPerSecond(1) < 0 && axis.status().rate < 0, 1000, "backward motion");
    expect(axis.status()).toMatchObject({ state: "tracking" });
    expect(axis.status().rate).toBeCloseTo(-SIDEREAL_DEG_S * 2, 6);
    // Rate 0 stops.
    axis.track(0);
    await until(axis.changed, () => axis.status().state === "idle", 3000, "idle");
    expect(board.moving(1)).toBe(false);
  });

  test("a rate too slow for the step timer leaves the motor still and the axis tracking, without restart loops", async () => {
    const { axis, board, rec, log } = await ready({ axis: { idlePollMs: 20 } });
    const mark = rec.mark();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    axis.track(1e-8); // the period would exceed the 24-bit timer register
    await Bun.sleep(300);
    clearInterval(ticker);
    expect(axis.status().state).toBe("tracking");
    expect(board.moving(1)).toBe(false);
    expect(rec.motion(mark)).toEqual([]);
    expect(log.lines.filter((l) => l.includes("restarting"))).toEqual([]);
    // Polls at the idle pace (f and j every 20 ms), and timers still run: nothing spins on the event loop.
    expect(rec.since(mark).filter((c) => c.cmd === "f").length).toBeLessThan(40);
    expect(ticks).toBeGreaterThan(10);
  });

  test("a motor stopped behind the driver's back while tracking is restarted once, after a poll pause", async () => {
    const { axis, board, rec, client, log } = await ready({ axis: { idlePollMs: 50 } });
    axis.track(SIDEREAL_DEG_S);
    await rec.next("J");
    const mark = rec.mark();
    await client.urgent("L", "1");
    await rec.next("J", "1", mark);
    expect(board.moving(1)).toBe(true);
    expect(log.lines.filter((l) => l.includes("restarting"))).toHaveLength(1);
    expect(rec.motion(mark).filter((c) => c === "J")).toHaveLength(1);
  });

  test("a fast slew above 128× sidereal uses the high-speed mode", async () => {
    const { axis, board, rec } = await ready();
    const mark = rec.mark();
    axis.track(2);
    await rec.next("J", "1", mark);
    const [g, i] = rec.motion(mark);
    expect(g).toBe("G30");
    expect(decodeU24(i!.slice(1))).toBe(Math.round((64_935 * 360 * 16) / (CPR * 2)));
    // At high speed the period is coarse: 21 ticks of 16 steps is 1.97°/s.
    const expected = (64_935 / 21) * 16 * (360 / CPR);
    await until([board.motion, axis.changed], () => Math.abs(board.rateDegS(1) - expected) < 1e-9, 2000, "the high-speed rate");
    expect(axis.status().rate).toBeCloseTo(expected, 9);
  });

  test("refusals: out of range, and a track rate that is not a number", async () => {
    const { axis } = await ready();
    const err = await axis.moveTo(181).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toMatchObject({ kind: "range" });
    expect(() => axis.checkMove(-200)).toThrow("range");
    expect(() => axis.track(Number.NaN)).toThrow(DeviceError);
    expect(axis.limit()).toBeNull();
  });

  test("link severed mid-slew: the move ends, moves are refused; restored: re-init and moves again", async () => {
    const { axis, board, rec, driverEnd } = await ready();
    const move = axis.moveTo(60);
    await until(board.motion, () => board.moving(1), 2000, "the goto to start");
    driverEnd.sever();
    expect(await move).toEqual({ arrived: false, reason: "mount disconnected" });
    expect(axis.connected()).toBe(false);
    expect(axis.status().state).toBe("moving"); // last known
    const refused = await axis.moveTo(0).catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: "disconnected" });
    expect(() => axis.track(0.01)).toThrow("disconnected");
    expect(await axis.stop().catch((e: unknown) => e)).toMatchObject({ kind: "disconnected" });

    const mark = rec.mark();
    driverEnd.restore();
    await until(axis.changed, () => axis.connected(), 3000, "reconnected");
    expect(rec.since(mark)[0]).toMatchObject({ cmd: "e" });
    // The board kept going while unsupervised; the driver stops it, then moves on request.
    expect(await axis.moveTo(0)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(0);
  });

  test("an adapter that echoes commands, and noise on the line, do not disturb the driver", async () => {
    const { axis, board, log } = await ready({ board: { echo: true } });
    axis.track(SIDEREAL_DEG_S);
    // Noise, then the start of a frame that never ends: both reported once the next real reply arrives.
    board.garble("\x00\xff~~=12");
    await until([axis.changed, board.received], () => log.lines.some((l) => l.includes("garbage")), 3000, "the noise to be reported");
    expect(axis.connected()).toBe(true);
    expect(await axis.moveTo(-2)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(-2));
    expect(log.lines.filter((l) => l.startsWith("error"))).toEqual([]);
  });

  test("a board that stops answering: the axis goes disconnected, and comes back when it answers", async () => {
    const { axis, board, log } = await ready({ timeoutMs: 50, retries: 2, axis: { idlePollMs: 50 } });
    board.mute(true);
    await until(axis.changed, () => !axis.connected(), 3000, "disconnected");
    expect(log.lines).toContain("warn mount axis lost");
    board.mute(false);
    await until(axis.changed, () => axis.connected(), 3000, "reconnected");
    expect(await axis.moveTo(1)).toEqual({ arrived: true });
  });
});
