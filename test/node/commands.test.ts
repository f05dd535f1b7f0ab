// Every command of seed 002's catalog through the real endpoints: each succeeds on valid input and fails with the
// right code on invalid input; cancel of a long slew and a long exposure; conflicts and supersede.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { COMMAND_TYPES } from "../../app/protocol";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

let server: TestServer;
let op: Operator;
let lease: string;

beforeAll(async () => {
  server = await startServer({ config: FAST_SIM });
  op = await Operator.connect(server, "bob");
  lease = await op.acquire(3600);
});
afterAll(async () => {
  op.close();
  expect(await server.stop()).toBe(0);
});

const M31 = { type: "named", name: "M31" };
/** Well above the horizon for the test site (latitude 60): near the pole. */
const POLARISH = { type: "equatorial", ra_deg: 120, dec_deg: 80, epoch: "J2000" };
/** Low in the south: a slew of ~100° from the pole, several seconds even on the fast simulator. */
const FAR_SOUTH = { type: "horizontal", alt_deg: 20, az_deg: 180 };

// One valid and one semantically invalid payload per command type, with the code the invalid one must get.
const CASES: Record<string, { ok: () => Record<string, unknown>; bad: Record<string, unknown>; code: string; check?: (data: any) => void }> = {
  "mount.point": {
    ok: () => ({ target: POLARISH }),
    bad: { target: { type: "named", name: "Nowhere-42" } },
    code: "invalid",
    check: (d) => {
      expect(d.tracking).toBe(false);
      expect(Math.abs(d.position.dec_deg - 80)).toBeLessThan(0.05);
    },
  },
  "mount.track": {
    ok: () => ({ target: M31, offset_pattern: { type: "daisy", radius_arcsec: 30, petals: 3, period_s: 60 } }),
    // At latitude 60 the south celestial pole never rises.
    bad: { target: { type: "equatorial", ra_deg: 0, dec_deg: -89, epoch: "J2000" } },
    code: "invalid",
    check: (d) => {
      expect(d.tracking).toBe(true);
      expect(d.offset_pattern.type).toBe("daisy");
    },
  },
  "mount.offset_relative": {
    ok: () => ({ delta_arcsec: 30, axis: "dec" }),
    bad: { delta_arcsec: 30, axis: "alt" },
    code: "invalid",
    check: (d) => expect(d.delta_arcsec).toBe(30),
  },
  "camera.exposure.start": {
    ok: () => ({ duration_s: 0.1, binning: 2 }),
    bad: { duration_s: 0.1, binning: 5 },
    code: "invalid",
    check: (d) => {
      expect(d.image_id).toBeString();
      expect(d.width).toBe(512);
    },
  },
  "imager.autofocus": {
    ok: () => ({ filter_id: "L", strategy: "parabolic" }),
    bad: { filter_id: "UV", strategy: "vcurve" },
    code: "invalid",
    check: (d) => expect(d.fit.strategy).toBe("parabolic"),
  },
  "filter_wheel.set_option": {
    ok: () => ({ filter_wheel_position_id: "Ha" }),
    bad: { filter_wheel_position_id: "Z" },
    code: "invalid",
    check: (d) => expect(d).toEqual({ filter_id: "Ha", slot: 5 }),
  },
  "focuser.move_absolute": {
    ok: () => ({ position_um: 24_500 }),
    bad: { position_um: 60_000 },
    code: "invalid",
    check: (d) => expect(d.position_um).toBe(24_500),
  },
  "focuser.move_relative": {
    ok: () => ({ delta_um: -100 }),
    bad: { delta_um: -1_000_000 },
    code: "invalid",
    check: (d) => expect(d.moved_um).toBe(-100),
  },
  "focus.move_absolute": {
    ok: () => ({ position_um: 25_000 }),
    bad: { position_um: 50_001 },
    code: "invalid",
    check: (d) => expect(d.position_um).toBe(25_000),
  },
  "focus.move_relative": {
    ok: () => ({ delta_um: 0 }),
    bad: { delta_um: 30_000 },
    code: "invalid",
    check: (d) => expect(d.moved_um).toBe(0),
  },
  "rotator.move_absolute": {
    ok: () => ({ angle_deg: 45 }),
    bad: { angle_deg: 270 },
    code: "invalid",
    check: (d) => expect(d.angle_deg).toBe(45),
  },
  "rotator.move_relative": {
    ok: () => ({ delta_deg: -15 }),
    bad: { delta_deg: 200 },
    code: "invalid",
    check: (d) => expect(d.angle_deg).toBe(30),
  },
  "manual_control_lease.acquire": {
    // The holder acquiring again gets a fresh lease (tested last-but-one so `lease` is refreshed).
    ok: () => ({ duration_s: 3600 }),
    // Longer than the telescope's configured maximum lease (4 h by default).
    bad: { duration_s: 20_000 },
    code: "invalid",
  },
  "manual_control_lease.renew": {
    ok: () => ({ lease_id: lease, duration_s: 1800 }),
    bad: { lease_id: "lease-not-mine", duration_s: 60 },
    code: "not_found",
    check: (d) => expect(Date.parse(d.expires_at) - Date.now()).toBeGreaterThan(1700_000),
  },
  "manual_control_lease.release": {
    ok: () => ({ lease_id: lease }),
    bad: { lease_id: "lease-unknown" },
    code: "not_found",
  },
  "system.abort_manual_control": {
    ok: () => ({ lease_id: lease }),
    bad: { lease_id: "lease-unknown" },
    code: "not_found",
  },
};

describe("the command catalog", () => {
  test("every command type has a case", () => {
    expect(Object.keys(CASES).sort()).toEqual([...COMMAND_TYPES].sort());
  });

  const ordered = COMMAND_TYPES.filter((t) => !t.startsWith("manual_control_lease") && t !== "system.abort_manual_control");
  for (const type of ordered) {
    test(`${type}: ok on valid input, ${CASES[type]!.code} on invalid`, async () => {
      const c = CASES[type]!;
      const bad = await op.run({ command_type: type, ...c.bad });
      expect(bad.status).toBe("error");
      expect(bad.error.code).toBe(c.code);
      expect(bad.error.message.length).toBeGreaterThan(10);
      const good = await op.run({ command_type: type, ...c.ok() }, 60_000);
      if (good.status !== "ok") throw new Error(JSON.stringify(good));
      c.check?.(good.data);
    });
  }

  test("schema-invalid payloads are refused by the hub with invalid, before reaching the telescope", async () => {
    const { answer } = await op.publish({ command_type: "focuser.move_absolute", position: 100 });
    expect(answer.kind).toBe("error");
    expect(answer.code).toBe("invalid");
  });

  test("lease commands: renew, re-acquire by the holder, release; bad ids are not_found", async () => {
    for (const type of ["manual_control_lease.renew", "manual_control_lease.acquire", "manual_control_lease.release"]) {
      const c = CASES[type]!;
      const bad = await op.run({ command_type: type, ...c.bad });
      expect(bad.status).toBe("error");
      expect(bad.error.code).toBe(c.code);
      const good = await op.run({ command_type: type, ...c.ok() });
      if (good.status !== "ok") throw new Error(JSON.stringify(good));
      c.check?.(good.data);
      if (type === "manual_control_lease.acquire") lease = good.data.lease_id;
    }
  });

  test("system.abort_manual_control: owner only; stops motion and revokes", async () => {
    lease = await op.acquire(600);
    const owner = await Operator.connect(server, "olga", "owner");
    const notOwner = await op.publish({ command_type: "system.abort_manual_control", lease_id: lease });
    expect(notOwner.answer.code).toBe("forbidden");
    const bad = await owner.run({ command_type: "system.abort_manual_control", ...CASES["system.abort_manual_control"]!.bad });
    expect(bad.error.code).toBe("not_found");
    // A long slew in progress when the owner aborts.
    const slew = await op.publish({ command_type: "mount.point", target: FAR_SOUTH });
    await op.snapshot("event_device_snapshot", (s) => s.slewing === true, "mount");
    const revoked = op.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === lease && f.lease.state === "revoked");
    const abort = await owner.run({ command_type: "system.abort_manual_control", lease_id: lease });
    expect(abort.status).toBe("ok");
    expect(abort.data.stopped).toContain("mount");
    const slewResult = await op.result(slew.command_id);
    expect(slewResult.status).toBe("canceled");
    await revoked;
    // Without the lease the operator is forbidden again.
    const after = await op.publish({ command_type: "focuser.move_relative", delta_um: 0 });
    expect(after.answer.code).toBe("forbidden");
    owner.close();
    lease = await op.acquire(3600);
  });
});

describe("cancel, conflict, supersede", () => {
  test("a long slew is canceled only once the axes have stopped", async () => {
    await op.run({ command_type: "mount.point", target: POLARISH });
    const { command_id } = await op.publish({ command_type: "mount.point", target: FAR_SOUTH });
    await op.snapshot("event_device_snapshot", (s) => s.slewing === true, "mount");
    const ack = await op.commands.request({ id: "cancel-1", kind: "cancel_command", command_id });
    expect(ack.kind).toBe("ack");
    const result = await op.result(command_id);
    expect(result.status).toBe("canceled");
    // Once canceled is reported, nothing moves: the next mount snapshot shows both axes idle.
    const still = await op.snapshot("event_device_snapshot", () => true, "mount");
    expect(still.axes.ha.state).toBe("idle");
    expect(still.axes.dec.state).toBe("idle");
    expect(still.slewing).toBe(false);
  });

  test("a long exposure is canceled once the shutter is closed; no image is stored", async () => {
    const { command_id } = await op.publish({ command_type: "camera.exposure.start", duration_s: 60, binning: 1 });
    await op.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
    op.commands.send({ kind: "cancel_command", command_id });
    const result = await op.result(command_id);
    expect(result.status).toBe("canceled");
    expect(result.data?.image_id).toBeUndefined();
    const cam = await op.snapshot("event_device_snapshot", () => true, "camera");
    expect(cam.state).toBe("idle");
  });

  test("a second focuser move while one runs is refused with conflict", async () => {
    await op.run({ command_type: "focuser.move_absolute", position_um: 0 });
    // 50 mm at 20 mm/s: long enough to overlap.
    const first = await op.publish({ command_type: "focuser.move_absolute", position_um: 50_000 });
    await op.snapshot("event_device_snapshot", (s) => s.state === "moving", "focuser");
    const second = await op.run({ command_type: "focuser.move_relative", delta_um: 10 });
    expect(second.status).toBe("error");
    expect(second.error.code).toBe("conflict");
    expect(second.error.details.busy_with).toBe(first.command_id);
    expect((await op.result(first.command_id)).status).toBe("ok");
    await op.run({ command_type: "focuser.move_absolute", position_um: 25_000 });
  });

  test("a new mount command supersedes a slew in progress", async () => {
    const first = await op.publish({ command_type: "mount.point", target: { type: "horizontal", alt_deg: 25, az_deg: 200 } });
    await op.snapshot("event_device_snapshot", (s) => s.slewing === true, "mount");
    const second = await op.run({ command_type: "mount.point", target: POLARISH });
    expect(second.status).toBe("ok");
    const r1 = await op.result(first.command_id);
    expect(r1.status).toBe("canceled");
    expect(r1.data.superseded_by).toBe(second.command_id);
  });

  test("without a lease an operator is forbidden", async () => {
    const stranger = await Operator.connect(server, "mallory");
    const { answer } = await stranger.publish({ command_type: "mount.point", target: POLARISH });
    expect(answer.kind).toBe("error");
    expect(answer.code).toBe("forbidden");
    const grab = await stranger.publish({ command_type: "manual_control_lease.acquire", duration_s: 60 });
    expect(grab.answer.code).toBe("conflict");
    stranger.close();
  });
});
