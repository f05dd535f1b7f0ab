import { describe, expect, test } from "bun:test";
import {
  COMMAND_TYPES,
  Command,
  CommandsInbound,
  ErrorCode,
  Origin,
  ServerMessage,
  StreamInbound,
  TargetPosition,
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
