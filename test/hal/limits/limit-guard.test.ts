import { describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { LimitGuard, type LimitSwitch } from "../../../hal/limits/limit-guard";
import { silentLog } from "../../../hal/log";
import { SimGpioChip } from "../../../hal/sim/gpio-chip";
import { wireSimLimits } from "../../../hal/sim/limit-wiring";
import { SimMountAxis } from "../../../hal/sim/mount-axis";
import { pipePair } from "../../../hal/serial/pipe";
import { axisRig, until } from "../synta/rig";

const WEST: LimitSwitch = { name: "ra-west", axis: "ra", direction: "positive", line: 3, active_low: true, bias: "pull-up", debounce_us: 0 };
const EAST: LimitSwitch = { name: "ra-east", axis: "ra", direction: "negative", line: 4, active_low: true, bias: "pull-up", debounce_us: 0 };

function rig(position = 0) {
  const chip = new SimGpioChip({ label: "test", lines: 8 });
  // Released switches: pulled up (active-low, so logical false).
  chip.drive(WEST.line, true);
  chip.drive(EAST.line, true);
  const ra = new SimMountAxis("ra", { position, min: -100, max: 100, speed: 20, accel: 200 });
  const dec = new SimMountAxis("dec", { position: 0, min: -90, max: 90, speed: 20, accel: 200 });
  return { chip, ra, dec };
}

describe("limit guard", () => {
  test("a trip halts the axis inside the edge handler, refuses motion into the limit, allows motion out", async () => {
    const { chip, ra, dec } = rig();
    const guard = new LimitGuard([{ chip, switches: [WEST, EAST] }], { ra, dec }, silentLog);
    const move = guard.ra.moveTo(90);
    await Bun.sleep(50);
    expect(ra.status().state).toBe("moving");
    chip.drive(WEST.line, false); // closes: pin pulled low
    // Synchronous: by the time drive() returns the axis has been halted.
    expect(ra.status().state).toBe("idle");
    const outcome = await move;
    expect(outcome).toEqual({ arrived: false, reason: 'ra positive limit switch "ra-west" tripped' });
    expect(guard.ra.limit()).toBe("positive");
    expect(guard.states().find((s) => s.name === "ra-west")?.tripped).toBe(true);

    const into = guard.ra.moveTo(ra.status().position + 1);
    await expect(into).rejects.toBeInstanceOf(DeviceError);
    await expect(into).rejects.toMatchObject({ kind: "limit", details: { axis: "ra", limit: "positive", switch: "ra-west" } });
    expect(() => guard.ra.track(0.004)).toThrow(/positive limit switch "ra-west"/);

    // Backing off is allowed; the switch opens and the refusal goes with it.
    const out = guard.ra.moveTo(ra.status().position - 5);
    chip.drive(WEST.line, true);
    expect(await out).toEqual({ arrived: true });
    expect(guard.ra.limit()).toBeNull();
    expect(await guard.ra.moveTo(ra.status().position + 1)).toEqual({ arrived: true });
    guard.release();
  });

  test("a switch already closed at power-on is honoured", async () => {
    const { chip, ra, dec } = rig(50);
    chip.drive(EAST.line, false);
    const guard = new LimitGuard([{ chip, switches: [WEST, EAST] }], { ra, dec }, silentLog);
    expect(guard.ra.limit()).toBe("negative");
    await expect(guard.ra.moveTo(40)).rejects.toMatchObject({ kind: "limit" });
    expect(() => guard.ra.track(-0.01)).toThrow(DeviceError);
    guard.ra.track(0.01); // away from it: fine
    await guard.ra.stop();
    guard.release();
  });

  test("simulated switches follow the simulated axis: a slew past the switch angle is stopped there", async () => {
    const { chip, ra, dec } = rig();
    const west = { ...WEST, sim_at_deg: 30 };
    const guard = new LimitGuard([{ chip, switches: [west] }], { ra, dec }, silentLog);
    const unwire = wireSimLimits(chip, {
        ra: { angle: () => ra.status().position, rate: () => ra.status().rate, moving: () => ra.status().state !== "idle", motion: ra.changed },
        dec: { angle: () => 0, rate: () => 0, moving: () => false, motion: dec.changed },
      }, [west]);
    const outcome = await guard.ra.moveTo(80);
    expect(outcome.arrived).toBe(false);
    const stoppedAt = ra.status().position;
    // Checked at least every millisecond near the switch at 20°/s: stopped within a few hundredths of a degree.
    expect(stoppedAt).toBeGreaterThanOrEqual(30);
    expect(stoppedAt).toBeLessThan(31);
    expect(guard.ra.limit()).toBe("positive");
    expect(await guard.ra.moveTo(10)).toEqual({ arrived: true });
    expect(guard.ra.limit()).toBeNull();
    unwire();
    guard.release();
  });

  test("on a Synta axis a trip seen on the main thread trips the line's latch too: the line refuses motion into it, whoever asks", async () => {
    const [driverEnd, boardEnd] = pipePair();
    const rig = axisRig(driverEnd, boardEnd);
    try {
      await rig.axis.init();
      const chip = new SimGpioChip({ label: "test", lines: 8 });
      chip.drive(WEST.line, true);
      const dec = new SimMountAxis("dec", { position: 0, min: -90, max: 90, speed: 20, accel: 200 });
      const guard = new LimitGuard([{ chip, switches: [WEST] }], { ra: rig.axis, dec }, silentLog);
      chip.drive(WEST.line, false);
      expect(guard.states()).toEqual([{ name: "ra-west", axis: "ra", direction: "positive", line: WEST.line, state: "tripped", tripped: true }]);
      // Around the LimitedAxis, straight to the driver: the serial line itself refuses.
      const mark = rig.rec.mark();
      await expect(rig.axis.moveTo(rig.axis.status().position + 1)).rejects.toMatchObject({ kind: "limit", details: { limit: "positive", switch: "ra-west" } });
      expect(rig.rec.motion(mark).filter((c) => c.startsWith("J"))).toEqual([]);
      expect(await rig.axis.moveTo(rig.axis.status().position - 1)).toEqual({ arrived: true });
      chip.drive(WEST.line, true);
      expect(guard.states()[0]).toMatchObject({ state: "clear", tripped: false });
      await until(rig.axis.changed, () => rig.axis.status().state === "idle", 5000, "the axis idle");
      expect(await rig.axis.moveTo(rig.axis.status().position + 1)).toEqual({ arrived: true });
      guard.release();
    } finally {
      rig.close();
    }
  });
});
