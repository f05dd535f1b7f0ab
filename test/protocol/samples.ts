/** One valid example of every message kind, by endpoint and direction (shapes per seeds 000-002, DESIGN.md §3). */
export const streamInbound = {
  ping: { kind: "ping", id: "p1" },
  pong: { kind: "pong" },
  ack: { kind: "ack", id: "x" },
  subscribe_stream: {
    kind: "subscribe_stream",
    subscription_id: "s1",
    streams: ["device_snapshot", "telescope_snapshot"],
    filter: { telescope_uid: ["sim-1", "t2"], device_uid: "mount" },
    options: { include_existing: true },
  },
  unsubscribe_stream: { kind: "unsubscribe_stream", subscription_id: "s1" },
  publish_device_snapshot: {
    kind: "publish_device_snapshot",
    telescope_uid: "sim-1",
    device_uid: "camera",
    snapshot: { device_type: "camera", instrument_uid: "imager", state: "idle" },
  },
  publish_telescope_snapshot: { kind: "publish_telescope_snapshot", telescope_uid: "sim-1", snapshot: { mode: "manual" } },
  publish_constraint_snapshot: { kind: "publish_constraint_snapshot", telescope_uid: "sim-1", snapshot: { min_alt_deg: 20 } },
  publish_constraint_status_snapshot: {
    kind: "publish_constraint_status_snapshot",
    telescope_uid: "sim-1",
    snapshot: { safe: true },
  },
  publish_shutdown_interlock_snapshot: {
    kind: "publish_shutdown_interlock_snapshot",
    telescope_uid: "sim-1",
    snapshot: { estop: false },
  },
  publish_telescope_log: {
    kind: "publish_telescope_log",
    telescope_uid: "sim-1",
    entry: { ts: "2026-11-23T12:00:00Z", level: "info", msg: "slew done", device: "mount" },
  },
} as const;

const equatorial = { type: "equatorial", ra_deg: 10.68, dec_deg: 41.27, epoch: "J2000" };
export const commands = {
  "mount.point": { command_type: "mount.point", target: equatorial },
  "mount.track": {
    command_type: "mount.track",
    target: { type: "named", name: "M31" },
    offset_pattern: { type: "daisy", radius_arcsec: 30, petals: 6, period_s: 60 },
  },
  "mount.offset_relative": { command_type: "mount.offset_relative", delta_arcsec: -12.5, axis: "dec" },
  "camera.exposure.start": { command_type: "camera.exposure.start", duration_s: 30, binning: 2, filter_id: "R" },
  "imager.autofocus": { command_type: "imager.autofocus", filter_id: "L", strategy: "v_curve" },
  "filter_wheel.set_option": { command_type: "filter_wheel.set_option", filter_wheel_position_id: "Ha" },
  "focuser.move_absolute": { command_type: "focuser.move_absolute", position_um: 12000 },
  "focuser.move_relative": { command_type: "focuser.move_relative", delta_um: -150 },
  "focus.move_absolute": { command_type: "focus.move_absolute", position_um: 12000 },
  "focus.move_relative": { command_type: "focus.move_relative", delta_um: 40 },
  "rotator.move_absolute": { command_type: "rotator.move_absolute", angle_deg: 90 },
  "rotator.move_relative": { command_type: "rotator.move_relative", delta_deg: -5 },
  "manual_control_lease.acquire": { command_type: "manual_control_lease.acquire", duration_s: 600, purpose: "imaging" },
  "manual_control_lease.renew": { command_type: "manual_control_lease.renew", lease_id: "L1", duration_s: 600 },
  "manual_control_lease.release": { command_type: "manual_control_lease.release", lease_id: "L1" },
  "system.abort_manual_control": { command_type: "system.abort_manual_control", lease_id: "L1" },
} as const;

export const commandsInbound = {
  ping: { kind: "ping" },
  pong: { kind: "pong", id: "p" },
  ack: { kind: "ack" },
  subscribe_commands: { kind: "subscribe_commands", subscription_id: "c1", filter: { telescope_uid: "sim-1" }, since_seq: 0 },
  unsubscribe_commands: { kind: "unsubscribe_commands", subscription_id: "c1" },
  publish_command: {
    kind: "publish_command",
    telescope_uid: "sim-1",
    command_id: "6f1c",
    command: commands["mount.point"],
    origin: { kind: "user", sub: "spoofed", client: "x" },
  },
  cancel_command: { kind: "cancel_command", command_id: "6f1c" },
  publish_command_result: {
    kind: "publish_command_result",
    telescope_uid: "sim-1",
    result: { command_id: "6f1c", status: "error", error: { code: "conflict", message: "mount busy" } },
  },
  publish_manual_control_lease: {
    kind: "publish_manual_control_lease",
    telescope_uid: "sim-1",
    seq: 7,
    lease: { state: "active", lease_id: "L1", holder: "sim-1/bob", expires_at: "2026-11-23T12:10:00.000Z" },
  },
  direct_request: { kind: "direct_request", request_id: "r1", telescope_uid: "sim-1", request_type: "image.fetch", payload: {} },
  direct_response_start: {
    kind: "direct_response_start",
    request_id: "r1",
    content_type: "image/fits",
    total_size: 5,
    metadata: { image_id: "i1" },
  },
  direct_response_chunk: { kind: "direct_response_chunk", request_id: "r1", data_b64: "aGVsbG8=" },
  direct_response_end: { kind: "direct_response_end", request_id: "r1" },
  direct_error: { kind: "direct_error", request_id: "r1", code: "internal", message: "disk error" },
} as const;

const lease = { state: "active", lease_id: "L1", holder: "alice", expires_at: "2026-11-23T12:10:00.000Z" };
const record = { telescope_uid: "sim-1", command_id: "6f1c", command: commands["mount.point"], origin: { kind: "user", sub: "alice", client: "c1" } };
export const serverMessages = {
  ping: { kind: "ping" },
  pong: { kind: "pong", id: "p1" },
  ack: { kind: "ack", id: "s1" },
  error: { kind: "error", id: "x", code: "forbidden", message: "no lease", details: {} },
  event_device_snapshot: { kind: "event_device_snapshot", subscription_id: "s", telescope_uid: "sim-1", device_uid: "mount", snapshot: {} },
  event_telescope_snapshot: { kind: "event_telescope_snapshot", subscription_id: "s", telescope_uid: "sim-1", snapshot: {} },
  event_instrument_snapshot: {
    kind: "event_instrument_snapshot",
    subscription_id: "s",
    telescope_uid: "sim-1",
    instrument_uid: "imager",
    snapshot: { devices: {} },
  },
  event_constraint_snapshot: { kind: "event_constraint_snapshot", subscription_id: "s", telescope_uid: "sim-1", snapshot: {} },
  event_constraint_status_snapshot: { kind: "event_constraint_status_snapshot", subscription_id: "s", telescope_uid: "sim-1", snapshot: {} },
  event_shutdown_interlock_snapshot: { kind: "event_shutdown_interlock_snapshot", subscription_id: "s", telescope_uid: "sim-1", snapshot: {} },
  event_manual_control_lease: { kind: "event_manual_control_lease", subscription_id: "s", telescope_uid: "sim-1", seq: 3, lease },
  event_telescope_log: {
    kind: "event_telescope_log",
    subscription_id: "s",
    telescope_uid: "sim-1",
    entry: { ts: 1795456229625, level: "warn", msg: "cloud" },
  },
  event_command: { kind: "event_command", subscription_id: "c", seq: 1, command: record },
  event_command_result: {
    kind: "event_command_result",
    subscription_id: "c",
    seq: 2,
    telescope_uid: "sim-1",
    result: { command_id: "6f1c", status: "ok", data: { ra_deg: 10.68, dec_deg: 41.27 } },
  },
  cancel_command: { kind: "cancel_command", command_id: "6f1c", telescope_uid: "sim-1" },
  direct_response_start: commandsInbound.direct_response_start,
  direct_response_chunk: commandsInbound.direct_response_chunk,
  direct_response_end: commandsInbound.direct_response_end,
  direct_error: commandsInbound.direct_error,
  // Hub → SkyNode flow control of a relayed direct response (DESIGN.md §3 extension).
  direct_credit: { kind: "direct_credit", request_id: "r7", chunks: 1 },
  direct_cancel: { kind: "direct_cancel", request_id: "r7", reason: "the requester disconnected" },
} as const;
