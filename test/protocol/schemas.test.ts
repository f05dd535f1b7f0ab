import { describe, expect, test } from "bun:test";
import {
  COMMAND_TYPES,
  Command,
  CommandsInbound,
  ErrorCode,
  LeaseGrant,
  LeaseState,
  Origin,
  ServerMessage,
  StreamInbound,
  TargetPosition,
  TaskSpec,
} from "../../app/protocol";
import { renderProtocolSchema } from "../../app/protocol/json-schema";
import { commands, commandsInbound, serverMessages, streamInbound } from "./samples";

const optionsOf = (u: { options: readonly { shape: { kind: { value: string } } }[] }) => u.options.map((o) => o.shape.kind.value).sort();

describe("protocol schemas", () => {
  test("the unions cover exactly the kinds of seed 000 (plus DESIGN.md's interlock stream and the relay's flow control)", () => {
    expect(optionsOf(StreamInbound)).toEqual(Object.keys(streamInbound).sort());
    expect(optionsOf(CommandsInbound)).toEqual(Object.keys(commandsInbound).sort());
    expect(optionsOf(ServerMessage)).toEqual(Object.keys(serverMessages).sort());
    const seedKinds = [
      "ping", "pong", "ack", "error", "subscribe_stream", "unsubscribe_stream", "publish_device_snapshot",
      "publish_telescope_snapshot", "publish_constraint_snapshot", "publish_constraint_status_snapshot",
      "publish_telescope_log", "event_device_snapshot", "event_telescope_snapshot", "event_instrument_snapshot",
      "event_constraint_snapshot", "event_constraint_status_snapshot", "event_manual_control_lease",
      "event_telescope_log", "subscribe_commands", "unsubscribe_commands", "publish_command", "cancel_command",
      "publish_command_result", "event_command", "event_command_result", "direct_request", "direct_response_start",
      "direct_response_chunk", "direct_response_end", "direct_error",
    ];
    const all = new Set([...optionsOf(StreamInbound), ...optionsOf(CommandsInbound), ...optionsOf(ServerMessage)]);
    for (const k of seedKinds) expect(all.has(k)).toBe(true);
  });

  test.each(Object.entries(streamInbound))("stream inbound %s parses", (_k, msg) => {
    expect(StreamInbound.safeParse(msg).error).toBeUndefined();
  });
  test.each(Object.entries(commandsInbound))("commands inbound %s parses", (_k, msg) => {
    expect(CommandsInbound.safeParse(msg).error).toBeUndefined();
  });
  test.each(Object.entries(serverMessages))("server message %s parses", (_k, msg) => {
    expect(ServerMessage.safeParse(msg).error).toBeUndefined();
  });

  test("the command catalog is seed 002's, focus.* aliases included", () => {
    expect([...COMMAND_TYPES].sort() as string[]).toEqual(Object.keys(commands).sort());
    for (const c of Object.values(commands)) expect(Command.safeParse(c).error).toBeUndefined();
  });

  test("command payloads are strict and range-checked", () => {
    const bad = [
      { command_type: "camera.exposure.start", duration: 30, binning: 1 },
      { command_type: "camera.exposure.start", duration_s: -1, binning: 1 },
      { command_type: "camera.exposure.start", duration_s: 1, binning: 0 },
      { command_type: "mount.point", target: { type: "equatorial", ra_deg: 360, dec_deg: 0 } },
      { command_type: "mount.point", target: { type: "equatorial", ra_deg: 1, dec_deg: 91 } },
      { command_type: "mount.point", target: { type: "solar_system", body: "Vulcan" } },
      { command_type: "manual_control_lease.acquire", duration_s: 0 },
      { command_type: "focuser.move_absolute", position_um: Number.NaN },
      { command_type: "mount.offset_relative", delta_arcsec: 1, axis: "x" },
      { command_type: "telescope.self_destruct" },
    ];
    for (const c of bad) expect(Command.safeParse(c).success).toBe(false);
  });

  test("every number that reaches a device or a loop is bounded, edges included", () => {
    const track = (offset_pattern: Record<string, unknown>) => ({ command_type: "mount.track", target: { type: "named", name: "M31" }, offset_pattern });
    const raster = (r: Record<string, unknown> = {}) => track({ type: "raster", width_arcsec: 600, height_arcsec: 600, step_arcsec: 60, dwell_s: 1, ...r });
    const daisy = (d: Record<string, unknown> = {}) => track({ type: "daisy", radius_arcsec: 300, petals: 5, period_s: 60, ...d });
    const exposure = (e: Record<string, unknown>) => ({ target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 1, count: 1, ...e }] });
    const taken = [
      raster({ step_arcsec: 0.1, width_arcsec: 9.9, height_arcsec: 9.9, dwell_s: 0.1 }), // exactly 100 x 100 points
      raster({ width_arcsec: 36000, height_arcsec: 36000, step_arcsec: 400 }), // 91 x 91 points
      daisy({ radius_arcsec: 0.1, period_s: 1, petals: 32 }),
      { command_type: "manual_control_lease.acquire", duration_s: 1 },
      { command_type: "manual_control_lease.renew", lease_id: "l", duration_s: 86400 },
      { command_type: "camera.exposure.start", duration_s: 0, binning: 16 },
    ];
    for (const c of taken) expect({ c, error: Command.safeParse(c).error }).toEqual({ c, error: undefined });
    const refused: [Record<string, unknown>, string][] = [
      [raster({ step_arcsec: 1e-300 }), "offset_pattern.step_arcsec"],
      [raster({ step_arcsec: 0.099 }), "offset_pattern.step_arcsec"],
      [raster({ width_arcsec: 10, height_arcsec: 9.9, step_arcsec: 0.1 }), "offset_pattern.step_arcsec"], // 101 x 100
      [raster({ width_arcsec: 36000, height_arcsec: 36000, step_arcsec: 1 }), "offset_pattern.step_arcsec"],
      [raster({ dwell_s: 0.05 }), "offset_pattern.dwell_s"],
      [raster({ width_arcsec: Number.POSITIVE_INFINITY }), "offset_pattern.width_arcsec"],
      [daisy({ period_s: 0.5 }), "offset_pattern.period_s"],
      [daisy({ radius_arcsec: 5e-324 }), "offset_pattern.radius_arcsec"],
      [daisy({ petals: 2.5 }), "offset_pattern.petals"],
      [{ command_type: "manual_control_lease.acquire", duration_s: 0.999 }, "duration_s"],
      [{ command_type: "manual_control_lease.renew", lease_id: "l", duration_s: 86401 }, "duration_s"],
      [{ command_type: "camera.exposure.start", duration_s: Number.NaN, binning: 1 }, "duration_s"],
      [{ command_type: "camera.exposure.start", duration_s: 1, binning: 17 }, "binning"],
      [{ command_type: "rotator.move_absolute", angle_deg: 361 }, "angle_deg"],
      [{ command_type: "focuser.move_relative", delta_um: -1e8 }, "delta_um"],
    ];
    for (const [c, path] of refused) {
      const paths = Command.safeParse(c).error?.issues.map((i) => i.path.join("."));
      expect({ c, paths }).toEqual({ c, paths: expect.arrayContaining([path]) });
    }
    expect(TaskSpec.safeParse(exposure({})).success).toBe(true);
    expect(TaskSpec.safeParse({ ...exposure({}), exposures: Array.from({ length: 10 }, () => ({ filter_id: "L", duration_s: 1, count: 1000 })) }).success).toBe(true);
    const tooMany = TaskSpec.safeParse({ ...exposure({}), exposures: Array.from({ length: 11 }, () => ({ filter_id: "L", duration_s: 1, count: 1000 })) });
    expect(tooMany.error?.issues.map((i) => i.path.join("."))).toEqual(["exposures"]);
    expect(TaskSpec.safeParse(exposure({ duration_s: 1e-300 })).error?.issues[0]?.path).toEqual(["exposures", 0, "duration_s"]);
    expect(TaskSpec.safeParse(exposure({ count: 1001 })).success).toBe(false);
  });

  test("lease grants and states carry the acquisition time through (optional for older records)", () => {
    const grant = { lease_id: "l", holder: "alice", expires_at: "2026-12-01T00:10:00.000Z", acquired_at: "2026-12-01T00:00:00.000Z" };
    expect(LeaseGrant.parse(grant)).toEqual(grant);
    expect(LeaseState.parse({ state: "active", ...grant })).toEqual({ state: "active", ...grant });
    const { acquired_at: _, ...older } = grant;
    expect(LeaseState.parse({ state: "expired", ...older })).toEqual({ state: "expired", ...older });
    expect(LeaseGrant.safeParse({ ...grant, acquired_at: "yesterday" }).success).toBe(false);
  });

  test("TargetPosition and Origin take the DESIGN.md §3 shapes", () => {
    for (const t of [
      { type: "equatorial", ra_deg: 0, dec_deg: -90 },
      { type: "horizontal", alt_deg: 45, az_deg: 180 },
      { type: "solar_system", body: "Mars" },
      { type: "named", name: "Vega" },
    ]) {
      expect(TargetPosition.safeParse(t).error).toBeUndefined();
    }
    expect(TargetPosition.parse({ type: "equatorial", ra_deg: 1, dec_deg: 2 })).toMatchObject({ epoch: "J2000" });
    expect(Origin.safeParse({ kind: "user", sub: "alice", client: "c1" }).success).toBe(true);
    expect(Origin.safeParse({ kind: "robot", sub: "alice", client: "c1" }).success).toBe(false);
  });

  test("the error code enum is seed 000's fixed set", () => {
    expect(ErrorCode.options).toEqual(["invalid", "forbidden", "not_found", "conflict", "internal"]);
  });

  test("docs/protocol.schema.json is generated from the schemas and up to date", async () => {
    const committed = await Bun.file(new URL("../../docs/protocol.schema.json", import.meta.url)).text();
    expect(committed === renderProtocolSchema()).toBe(true);
    const doc = JSON.parse(committed);
    for (const name of ["StreamInbound", "CommandsInbound", "ServerMessage", "Command", "TargetPosition", "Origin"]) {
      expect(doc.$defs[name]).toBeDefined();
    }
  });
});
