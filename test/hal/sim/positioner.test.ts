// The simulated positioner every sim device builds on: realistic move times, decelerating stops that resolve only
// once still, supersede, range refusal, and constant-rate motion that halts at the end of travel.
import { describe, expect, test } from "bun:test";
import { decelerate, trapezoid } from "../../../hal/sim/motion-profile";
import { SimMountAxis } from "../../../hal/sim/mount-axis";
import { SimPositioner } from "../../../hal/sim/positioner";

describe("motion profiles", () => {
  test("a trapezoid takes d/v + v/a and ends at rest on the target", () => {
    const p = trapezoid(0, 90, 4, 2, 0); // 90° at 4°/s, 2°/s²: 22.5 + 2 s
    expect(p.end).toBeCloseTo(24_500, 3);
    expect(p.at(p.end)).toEqual({ p: 90, v: 0 });
    expect(p.at(12_250).v).toBeCloseTo(4, 6);
    expect(p.at(1000).p).toBeCloseTo(1, 6); // ½·a·t²
  });

  test("a short move is triangular and never exceeds vmax", () => {
    const p = trapezoid(10, 9, 4, 2, 0);
    expect(p.end).toBeCloseTo(2 * Math.sqrt(0.5) * 1000, 3);
    for (let t = 0; t <= p.end; t += 50) expect(Math.abs(p.at(t).v)).toBeLessThanOrEqual(4);
    expect(p.at(p.end).p).toBe(9);
  });

  test("deceleration stops after v/a, v²/2a further on", () => {
    const p = decelerate(5, -3, 2, 1000);
    expect(p.end).toBeCloseTo(2500, 6);
    expect(p.endPosition).toBeCloseTo(5 - 2.25, 9);
    expect(p.at(10_000)).toEqual({ p: p.endPosition, v: 0 });
  });
});

describe("SimPositioner", () => {
  const make = () => new SimPositioner({ position: 0, min: -100, max: 100, speed: 200, accel: 2000 });

  test("moves, reports moving then idle, and arrives", async () => {
    const d = make();
    const states: string[] = [];
    d.changed.on(() => states.push(d.status().state));
    const outcome = await d.moveTo(50);
    expect(outcome).toEqual({ arrived: true });
    expect(d.status()).toMatchObject({ position: 50, state: "idle", rate: 0 });
    expect(states).toEqual(["moving", "idle"]);
  });

  test("stop decelerates and resolves only once still; the move resolves not arrived", async () => {
    const d = make();
    const move = d.moveTo(100);
    await Bun.sleep(150);
    const stopped = d.stop("test");
    expect(d.status().state).toBe("stopping");
    expect(await move).toEqual({ arrived: false, reason: "test" });
    await stopped;
    const s = d.status();
    expect(s.state).toBe("idle");
    expect(s.rate).toBe(0);
    expect(s.position).toBeLessThan(100);
    expect(s.position).toBeGreaterThan(0);
  });

  test("a new move supersedes the one in progress", async () => {
    const d = make();
    const first = d.moveTo(100);
    const second = d.moveTo(-10);
    expect((await first).arrived).toBe(false);
    expect(await second).toEqual({ arrived: true });
    expect(d.status().position).toBe(-10);
  });

  test("a goal outside the range is refused before anything moves", async () => {
    const d = make();
    await expect(d.moveTo(101)).rejects.toThrow("outside");
    expect(d.status().state).toBe("idle");
  });

  test("constant-rate motion halts at the end of travel, and a very slow rate does not fire early", async () => {
    const axis = new SimMountAxis("ra", { position: 99.9, min: -100, max: 100, speed: 10, accel: 100 });
    axis.track(1);
    await Bun.sleep(200);
    expect(axis.status()).toMatchObject({ position: 100, state: "idle" });
    // ~10^13 ms to the end: longer than a timer can wait. It must keep tracking, not stop at once.
    const slow = new SimMountAxis("dec", { position: 0, min: -90, max: 90, speed: 10, accel: 100 });
    slow.track(1e-11);
    await Bun.sleep(20);
    expect(slow.status().state).toBe("tracking");
    await slow.stop();
    expect(slow.status().state).toBe("idle");
  });
});
