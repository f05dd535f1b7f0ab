/**
 * Property-based robustness test of both WebSocket endpoints: thousands of random and mutated frames (bad JSON,
 * wrong types, out-of-range numbers, huge strings, unknown kinds, binary and oversized frames) are thrown at one
 * real server. Every such frame must be answered with exactly one `{kind:"error", code:"invalid"}`, the fuzzed
 * connections must stay open, the server must never crash (SIGTERM at the end exits 0), and a well-behaved
 * publisher/subscriber pair on the same server must see every one of its events, in order, throughout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  COMMAND_TYPES,
  CommandStreamName,
  CommandsInbound,
  ErrorCode,
  ServerMessage,
  StreamInbound,
  StreamName,
} from "../../app/protocol";
import { removeDir, startServer, type TestServer } from "../helpers/server";
import { TestClient, type Frame } from "../helpers/ws-client";

// ---------------------------------------------------------------------------------------------------------------
// Helpers: talking to the server
// ---------------------------------------------------------------------------------------------------------------

type Endpoint = "stream" | "commands";
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObj = { [k: string]: Json };

const KiB = 1024;
const MiB = 1024 * KiB;
const TELESCOPE = "sim-1";
/** Fuzz frames between two snapshots of the well-behaved publisher. */
const HEARTBEAT_EVERY = 25;

let server: TestServer;
const fuzz = {} as Record<Endpoint, TestClient>;
let publisher: TestClient;
let viewer: TestClient;
let published = 0;
let fuzzed = 0;

/** The well-behaved SkyNode publishes its next snapshot (counter = 1, 2, 3, …). */
function publishSnapshot(): void {
  published++;
  const snapshot = { counter: published };
  publisher.send({ kind: "publish_telescope_snapshot", id: `snap-${published}`, telescope_uid: TELESCOPE, snapshot });
}

let probeSeq = 0;
/** Sends `frame` followed by a probe ping and returns every frame the server sent back before the probe's pong, i.e.
 * exactly the answers to `frame` (the hub handles a connection's frames in order and answers synchronously). */
async function exchange(c: TestClient, frame: string | Uint8Array, timeoutMs = 15_000): Promise<Frame[]> {
  if (c.closed) throw new Error(`fuzz connection is closed (${c.closed.code} ${c.closed.reason})`);
  const start = c.received.length;
  const probe = `probe-${++probeSeq}`;
  c.send(frame);
  c.send({ kind: "ping", id: probe });
  const isProbe = (f: Frame) => f.kind === "pong" && f.id === probe;
  const outcome = await Promise.race([
    c.next(isProbe, timeoutMs).then(
      () => "pong" as const,
      (e: Error) => e,
    ),
    c.waitClosed().then((cl) => new Error(`server closed the fuzz connection (${cl.code} ${cl.reason})`)),
  ]);
  if (outcome !== "pong") throw new Error(`${outcome.message}; frame: ${preview(frame)}`);
  const after = c.received.slice(start);
  return after.slice(0, after.findIndex(isProbe));
}

/** Sends one fuzz frame and checks it got exactly one answer, an `invalid` error. */
async function expectInvalid(c: TestClient, frame: string | Uint8Array, label = ""): Promise<Frame> {
  const answers = await exchange(c, frame);
  if (++fuzzed % HEARTBEAT_EVERY === 0) publishSnapshot();
  const [answer] = answers;
  if (answers.length !== 1 || answer?.kind !== "error" || answer.code !== "invalid" || typeof answer.message !== "string") {
    const what = `${label ? `(${label}) ` : ""}${preview(frame)}`;
    throw new Error(`expected exactly one {kind:"error",code:"invalid"} for ${what}; got ${preview(JSON.stringify(answers))}`);
  }
  return answer;
}

function preview(frame: string | Uint8Array): string {
  if (typeof frame !== "string") return `binary frame of ${frame.length} bytes`;
  return frame.length > 600 ? `${JSON.stringify(frame.slice(0, 600))}… (${frame.length} chars)` : JSON.stringify(frame);
}

/** fast-check settings for a server round-trip property: report the original failing frame rather than shrinking
 * (the server is stateful, and a frame that broke the connection would make every shrink candidate fail too), and
 * report it through our own message, which abbreviates frames of 100 KiB and more. */
const compactReport: fc.Plugin<unknown> = () => ({
  onAllRunsComplete: (d) => {
    if (!d.failed) return;
    const why = d.errorInstance instanceof Error ? d.errorInstance.message : String(d.errorInstance);
    throw new Error(`property failed after ${d.numRuns} runs (seed ${d.seed}, path ${d.counterexamplePath}): ${why}`);
  },
});
const runs = (numRuns: number) => ({ numRuns, endOnFailure: true, plugins: [compactReport] });

// ---------------------------------------------------------------------------------------------------------------
// Helpers: JSON paths
// ---------------------------------------------------------------------------------------------------------------

type JsonType = "null" | "boolean" | "number" | "string" | "array" | "object";
const jsonType = (v: unknown): JsonType =>
  v === null ? "null" : Array.isArray(v) ? "array" : (typeof v as "boolean" | "number" | "string" | "object");
const isObject = (v: unknown): v is JsonObj => jsonType(v) === "object";

function parentOf(root: JsonObj, path: string): [Record<string, Json>, string] {
  const keys = path.split(".");
  const last = keys.pop()!;
  let node: unknown = root;
  for (const k of keys) node = (node as Record<string, unknown>)[k];
  if (node === null || typeof node !== "object") throw new Error(`bad sample path ${path}`);
  return [node as Record<string, Json>, last];
}
function withValue(msg: JsonObj, path: string, value: Json): JsonObj {
  const copy = structuredClone(msg);
  const [parent, key] = parentOf(copy, path);
  if (!(key in parent)) throw new Error(`sample has no ${path}`);
  parent[key] = value;
  return copy;
}
function without(msg: JsonObj, path: string): JsonObj {
  const copy = structuredClone(msg);
  const [parent, key] = parentOf(copy, path);
  if (!(key in parent)) throw new Error(`sample has no ${path}`);
  delete parent[key];
  return copy;
}
/** Adds an own key (defineProperty, so that "__proto__" becomes a real key of the JSON text). */
function withExtraKey(msg: JsonObj, objectPath: string, key: string, value: Json): JsonObj {
  const copy = structuredClone(msg);
  const [parent, last] = parentOf(copy, objectPath);
  const target = parent[last];
  if (!isObject(target)) throw new Error(`sample has no object at ${objectPath}`);
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}
/** Every path of `v` except the free-form ones (and what is inside them). */
function pathsOf(v: unknown, free: ReadonlySet<string>, prefix = ""): string[] {
  if (v === null || typeof v !== "object") return [];
  return Object.entries(v).flatMap(([k, child]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return free.has(p) ? [] : [p, ...pathsOf(child, free, p)];
  });
}

const notJson = (s: string) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries of values that break a field
// ---------------------------------------------------------------------------------------------------------------

/** 100–150 Ki code points (zod measures string limits in code points): over every string limit of the protocol
 * (ids 200, log msg 64 Ki, messages 4 Ki). */
const hugeString = fc
  .tuple(fc.integer({ min: 100 * KiB, max: 150 * KiB }), fc.constantFrom("a", "Z", "0", "é", "€", "😀", " "))
  .map(([n, ch]) => ch.repeat(n));
const badUid = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9._:@-]{0,20}$/),
    fc.constantFrom(" ", "/", "#", "é", "\n", "\u0000", "*", "?", "%", "\\", '"', "😀", "\u200b"),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, b, c]) => a + b + c);
/** For a ClientId (string 1..200). */
const badId = fc.oneof(hugeString, fc.constant(""));
/** For a Uid (string 1..200 of [A-Za-z0-9._:@-]). */
const badUidValue = fc.oneof(hugeString, fc.constant(""), badUid);

function nearMisses(s: string): string[] {
  return [
    s.toUpperCase(),
    s.charAt(0).toUpperCase() + s.slice(1),
    `${s} `,
    ` ${s}`,
    `${s}\u0000`,
    `${s}\u200b`,
    s.replaceAll("_", "-"),
    s.replaceAll(".", "_"),
    s.slice(0, -1),
    `${s}s`,
    `event_${s}`,
  ].filter((m) => m !== s);
}
/** A string that is not one of `allowed`, often a near miss of `near`. */
const notIn = (allowed: readonly string[], near: string) =>
  fc.oneof(fc.constantFrom(...nearMisses(near)), fc.string(), fc.string({ unit: "binary" })).filter((s) => !allowed.includes(s));

// Numbers outside a range: JSON carries them exactly (fast-check doubles round-trip through JSON.stringify).
// Half of them close to the bound (a uniform double over a huge range would almost never be near it).
const near = (bound: number) => Math.max(1, Math.abs(bound));
const below = (min: number) =>
  fc
    .oneof(
      fc.double({ min: min - near(min), max: min, maxExcluded: true, noNaN: true }),
      fc.double({ min: -1e300, max: min, maxExcluded: true, noNaN: true }),
    )
    .filter((x) => x < min);
const above = (max: number) =>
  fc
    .oneof(
      fc.double({ min: max, minExcluded: true, max: max + near(max), noNaN: true }),
      fc.double({ min: max, minExcluded: true, max: 1e300, noNaN: true }),
    )
    .filter((x) => x > max);
const atLeast = (max: number) =>
  fc.oneof(fc.double({ min: max, max: max + near(max), noNaN: true }), fc.double({ min: max, max: 1e300, noNaN: true }));
const outside = (min: number, max: number) => fc.oneof(below(min), above(max));
const fraction = (min: number, max: number) => fc.double({ min, max, noNaN: true }).filter((x) => !Number.isInteger(x));
/** For an integer in [min, max] (max < 2^31). */
const badInt = (min: number, max: number) =>
  fc.oneof(fc.integer({ min: -(2 ** 31), max: min - 1 }), fc.integer({ min: max + 1 }), fraction(min, max));
/** For an integer ≥ min with no upper bound. */
const badIntFrom = (min: number) => fc.oneof(fc.integer({ min: -(2 ** 31), max: min - 1 }), fraction(min, 1e9));

/** Any JSON value of a type other than `accepted`. */
const wrongType = (accepted: readonly JsonType[]) =>
  fc
    .oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string(),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
      fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    )
    .filter((v) => !accepted.includes(jsonType(v))) as fc.Arbitrary<Json>;

/** Keys of the protocol's strict objects (command payloads, targets, offset patterns, filters, options): an added
 * key must not be one of them, or the mutation might be valid. */
const STRICT_KEYS = new Set(
  (
    "command_type target offset_pattern delta_arcsec axis duration_s binning filter_id strategy filter_wheel_position_id " +
    "position_um delta_um angle_deg delta_deg purpose lease_id type ra_deg dec_deg epoch alt_deg az_deg body name " +
    "width_arcsec height_arcsec step_arcsec dwell_s radius_arcsec petals period_s telescope_uid observatory_uid " +
    "device_type device_uid include_existing"
  ).split(" "),
);
const unknownKey = fc
  .oneof(fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "Type", "ra_deg ", "", "kind"), fc.string())
  .filter((k) => !STRICT_KEYS.has(k));

// ---------------------------------------------------------------------------------------------------------------
// Valid samples and the mutations that must break them
// ---------------------------------------------------------------------------------------------------------------

interface Sample {
  msg: JsonObj;
  /** Fields whose removal makes the message invalid (`id` and defaulted fields are optional, so never listed). */
  required: string[];
  /** Objects that refuse unknown keys (envelopes are not strict: a ping with extra fields is valid). */
  strict?: string[];
  /** Free-form values (inside snapshots, payloads, result data…): not mutated. */
  free?: string[];
  /** Fields that accept more than the JSON type of the sample's value. */
  types?: Record<string, JsonType[]>;
  /** Values of the right type that break the field's constraints (range, length, pattern, enum). */
  bad?: Record<string, fc.Arbitrary<Json>>;
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const TARGET_TYPES = ["equatorial", "horizontal", "solar_system", "named"];
/** Payload fields that are optional in every command that has them. */
const OPTIONAL_PAYLOAD_FIELDS = new Set(["command_type", "filter_id", "purpose", "offset_pattern"]);
/** A publish_command sample; the payload's other top-level fields are required (pass nested ones in `extra`). */
const command = (id: string, payload: JsonObj, bad: Record<string, fc.Arbitrary<Json>>, extra: Partial<Sample> = {}): Sample => ({
  msg: { kind: "publish_command", id, telescope_uid: TELESCOPE, command_id: `cmd-${id}`, command: payload },
  required: [
    "kind",
    "telescope_uid",
    "command_id",
    "command",
    "command.command_type",
    ...Object.keys(payload)
      .filter((k) => !OPTIONAL_PAYLOAD_FIELDS.has(k))
      .map((k) => `command.${k}`),
    ...(extra.required ?? []),
  ],
  strict: ["command", ...(extra.strict ?? [])],
  bad: {
    id: badId,
    telescope_uid: badUidValue,
    command_id: badId,
    "command.command_type": notIn(COMMAND_TYPES, payload.command_type as string),
    ...bad,
  },
});

const STREAM_SAMPLES: Sample[] = [
  {
    msg: {
      kind: "subscribe_stream",
      id: "s-1",
      subscription_id: "sub-1",
      streams: ["telescope_snapshot", "telescope_log"],
      filter: { telescope_uid: TELESCOPE, device_type: ["mount"] },
      options: { include_existing: false },
    },
    required: ["kind", "subscription_id"],
    strict: ["filter", "options"],
    types: { "filter.telescope_uid": ["string", "array"], "filter.device_type": ["string", "array"] },
    bad: {
      id: badId,
      subscription_id: badId,
      streams: fc.constant([]),
      "streams.0": notIn(StreamName.options, "telescope_snapshot"),
      "filter.telescope_uid": badUidValue,
      "filter.device_type": fc.constantFrom([], Array.from({ length: 101 }, (_, i) => `t${i}`)),
      "filter.device_type.0": badUidValue,
    },
  },
  {
    msg: { kind: "unsubscribe_stream", id: "u-1", subscription_id: "sub-1" },
    required: ["kind", "subscription_id"],
    bad: { id: badId, subscription_id: badId },
  },
  {
    msg: {
      kind: "publish_telescope_snapshot",
      id: "p-1",
      telescope_uid: TELESCOPE,
      snapshot: { device_type: "telescope", observatory_uid: "obs-1", state: { ra: 1, parked: false } },
    },
    required: ["kind", "telescope_uid", "snapshot"],
    free: ["snapshot.state"],
    bad: { id: badId, telescope_uid: badUidValue, "snapshot.device_type": hugeString, "snapshot.observatory_uid": badUidValue },
  },
  {
    msg: { kind: "publish_shutdown_interlock_snapshot", telescope_uid: TELESCOPE, snapshot: {} },
    required: ["kind", "telescope_uid", "snapshot"],
    bad: { telescope_uid: badUidValue },
  },
  {
    msg: {
      kind: "publish_device_snapshot",
      id: "d-1",
      telescope_uid: TELESCOPE,
      device_uid: "mount-1",
      snapshot: { device_type: "mount", instrument_uid: "inst-1", position: { alt: 10 } },
    },
    required: ["kind", "telescope_uid", "device_uid", "snapshot"],
    free: ["snapshot.position"],
    bad: { telescope_uid: badUidValue, device_uid: badUidValue, "snapshot.instrument_uid": badUidValue },
  },
  {
    msg: {
      kind: "publish_telescope_log",
      id: "l-1",
      telescope_uid: TELESCOPE,
      entry: { ts: "2024-05-01T21:00:00Z", level: "info", msg: "slewing", component: "mount" },
    },
    required: ["kind", "telescope_uid", "entry", "entry.ts", "entry.level", "entry.msg"],
    free: ["entry.component"],
    types: { "entry.ts": ["string", "number"] },
    bad: {
      telescope_uid: badUidValue,
      "entry.ts": fc.constantFrom("", "yesterday", "2024-13-45T99:00:00Z", "21:00", "2024-05-01 21:00"),
      "entry.level": notIn(LOG_LEVELS, "info"),
      "entry.msg": hugeString,
    },
  },
  {
    msg: { kind: "ack", id: "a-1", command_id: "c-1", seq: 3 },
    required: ["kind"],
    bad: { id: badId, command_id: badId, seq: badIntFrom(1) },
  },
  { msg: { kind: "ping", id: "ping-1" }, required: ["kind"], bad: { id: badId } },
  { msg: { kind: "pong", id: "pong-1" }, required: ["kind"], bad: { id: badId } },
];

const COMMAND_SAMPLES: Sample[] = [
  {
    msg: {
      kind: "subscribe_commands",
      id: "sc-1",
      subscription_id: "cmds",
      streams: ["command", "command_result"],
      filter: { telescope_uid: [TELESCOPE] },
      since_seq: 0,
    },
    required: ["kind", "subscription_id"],
    strict: ["filter"],
    types: { "filter.telescope_uid": ["string", "array"] },
    bad: {
      id: badId,
      subscription_id: badId,
      streams: fc.constant([]),
      "streams.0": notIn(CommandStreamName.options, "command"),
      "filter.telescope_uid": fc.oneof(badUidValue, fc.constant<Json>([])),
      "filter.telescope_uid.0": badUidValue,
      since_seq: badIntFrom(0),
    },
  },
  {
    msg: { kind: "unsubscribe_commands", id: "uc-1", subscription_id: "cmds" },
    required: ["kind", "subscription_id"],
    bad: { id: badId, subscription_id: badId },
  },
  command(
    "point-eq",
    { command_type: "mount.point", target: { type: "equatorial", ra_deg: 83.63, dec_deg: 22.01, epoch: "J2000" } },
    {
      "command.target.type": notIn(TARGET_TYPES, "equatorial"),
      "command.target.ra_deg": fc.oneof(below(0), atLeast(360)),
      "command.target.dec_deg": outside(-90, 90),
      "command.target.epoch": notIn(["J2000"], "J2000"),
    },
    { required: ["command.target.type", "command.target.ra_deg", "command.target.dec_deg"], strict: ["command.target"] },
  ),
  command(
    "point-hz",
    { command_type: "mount.point", target: { type: "horizontal", alt_deg: 45, az_deg: 180 } },
    { "command.target.alt_deg": outside(-90, 90), "command.target.az_deg": fc.oneof(below(0), atLeast(360)) },
    { required: ["command.target.type", "command.target.alt_deg", "command.target.az_deg"], strict: ["command.target"] },
  ),
  command(
    "track",
    {
      command_type: "mount.track",
      target: { type: "named", name: "M42" },
      offset_pattern: { type: "daisy", radius_arcsec: 60, petals: 6, period_s: 120 },
    },
    {
      "command.target.name": fc.oneof(fc.constant(""), hugeString),
      "command.offset_pattern.type": notIn(["raster", "daisy"], "daisy"),
      "command.offset_pattern.radius_arcsec": fc.oneof(below(Number.MIN_VALUE), above(36000)),
      "command.offset_pattern.petals": badInt(1, 32),
      "command.offset_pattern.period_s": fc.oneof(below(Number.MIN_VALUE), above(86400)),
    },
    {
      required: [
        "command.target.type",
        "command.target.name",
        "command.offset_pattern.type",
        "command.offset_pattern.radius_arcsec",
        "command.offset_pattern.petals",
        "command.offset_pattern.period_s",
      ],
      strict: ["command.target", "command.offset_pattern"],
    },
  ),
  command(
    "offset",
    { command_type: "mount.offset_relative", delta_arcsec: 30, axis: "ra" },
    { "command.delta_arcsec": outside(-36000, 36000), "command.axis": notIn(["ra", "dec", "alt", "az"], "ra") },
  ),
  command(
    "expose",
    { command_type: "camera.exposure.start", duration_s: 2.5, binning: 2, filter_id: "L" },
    { "command.duration_s": outside(0, 86400), "command.binning": badInt(1, 16), "command.filter_id": badId },
  ),
  command(
    "autofocus",
    { command_type: "imager.autofocus", filter_id: "L", strategy: "v_curve" },
    { "command.filter_id": badId, "command.strategy": notIn(["v_curve", "parabolic"], "v_curve") },
    { required: ["command.filter_id"] },
  ),
  command(
    "lease",
    { command_type: "manual_control_lease.acquire", duration_s: 600, purpose: "focus run" },
    { "command.duration_s": fc.oneof(fc.double({ min: -1e300, max: 0, noNaN: true }), above(86400)), "command.purpose": hugeString },
  ),
  command(
    "renew",
    { command_type: "manual_control_lease.renew", lease_id: "lease-1", duration_s: 60 },
    { "command.lease_id": badId, "command.duration_s": fc.oneof(fc.double({ min: -1e300, max: 0, noNaN: true }), above(86400)) },
  ),
  command("focus", { command_type: "focuser.move_absolute", position_um: 1234 }, { "command.position_um": outside(0, 1e7) }),
  command("rotate", { command_type: "rotator.move_relative", delta_deg: -15 }, { "command.delta_deg": outside(-360, 360) }),
  {
    msg: { kind: "cancel_command", id: "cc-1", command_id: "cmd-expose", telescope_uid: TELESCOPE },
    required: ["kind", "command_id"],
    bad: { id: badId, command_id: badId, telescope_uid: badUidValue },
  },
  {
    msg: {
      kind: "publish_command_result",
      id: "r-1",
      telescope_uid: TELESCOPE,
      result: {
        command_id: "cmd-expose",
        status: "error",
        data: { x: 1 },
        error: { code: "conflict", message: "busy", details: { a: 1 } },
      },
    },
    // status "error" needs an error, so result.error is required here.
    required: ["kind", "telescope_uid", "result", "result.command_id", "result.status", "result.error", "result.error.code", "result.error.message"],
    free: ["result.data.x", "result.error.details.a"],
    bad: {
      telescope_uid: badUidValue,
      "result.command_id": badId,
      "result.status": notIn(["ok", "error", "canceled"], "error"),
      "result.error.code": notIn(ErrorCode.options, "conflict"),
      "result.error.message": hugeString,
    },
  },
  {
    msg: {
      kind: "direct_request",
      id: "dr-1",
      request_id: "req-1",
      telescope_uid: TELESCOPE,
      request_type: "image.fetch",
      payload: { path: "/img/1.fits" },
    },
    required: ["kind", "request_id", "telescope_uid", "request_type"],
    free: ["payload.path"],
    bad: { request_id: badId, telescope_uid: badUidValue, request_type: fc.oneof(fc.constant(""), hugeString) },
  },
  {
    msg: { kind: "direct_response_start", request_id: "req-1", content_type: "image/fits", total_size: 10, encoding: "binary" },
    required: ["kind", "request_id", "content_type", "total_size"],
    bad: {
      content_type: fc.oneof(fc.constant(""), hugeString),
      total_size: badIntFrom(0),
      encoding: notIn(["base64", "binary"], "binary"),
    },
  },
  {
    msg: { kind: "direct_response_chunk", request_id: "req-1", data_b64: "AAAA", seq: 0, size: 3 },
    required: ["kind", "request_id"],
    bad: { data_b64: fc.constantFrom("not base64!", "@@@@", "abc", "===="), seq: badIntFrom(0), size: badIntFrom(0) },
  },
  {
    msg: { kind: "direct_error", request_id: "req-1", code: "not_found", message: "no such image" },
    required: ["kind", "request_id", "code", "message"],
    bad: { code: notIn(ErrorCode.options, "not_found"), message: hugeString },
  },
  { msg: { kind: "ping", id: "ping-2" }, required: ["kind"], bad: { id: badId } },
];

const kindsOf = (u: { options: readonly { shape: { kind: { value: string } } }[] }) => u.options.map((o) => o.shape.kind.value);
const VALID_KINDS: Record<Endpoint, Set<string>> = { stream: new Set(kindsOf(StreamInbound)), commands: new Set(kindsOf(CommandsInbound)) };
const SAMPLES: Record<Endpoint, Sample[]> = { stream: STREAM_SAMPLES, commands: COMMAND_SAMPLES };
const ALL_KINDS = [...new Set([...VALID_KINDS.stream, ...VALID_KINDS.commands, ...kindsOf(ServerMessage)])];

interface Mutant {
  mutation: string;
  msg: JsonObj;
}

/** Every way to break a sample that is guaranteed to make it invalid, one arbitrary per target (field × kind of
 * mutation); the values are random. */
function mutationTargets(endpoint: Endpoint): fc.Arbitrary<Mutant>[] {
  return SAMPLES[endpoint].flatMap((s) => {
    const name = `${s.msg.kind}${s.msg.id ? ` ${s.msg.id}` : ""}`;
    const mutant = (mutation: string, msg: JsonObj): Mutant => ({ mutation: `${name}: ${mutation}`, msg });
    const targets: fc.Arbitrary<Mutant>[] = [
      ...s.required.map((p) => fc.constant(mutant(`delete ${p}`, without(s.msg, p)))),
      ...pathsOf(s.msg, new Set(s.free ?? [])).map((p) => {
        const [parent, key] = parentOf(s.msg, p);
        const accepted = s.types?.[p] ?? [jsonType(parent[key])];
        return wrongType(accepted).map((v) => mutant(`retype ${p}`, withValue(s.msg, p, v)));
      }),
      ...Object.entries(s.bad ?? {}).map(([p, arb]) => arb.map((v) => mutant(`break ${p}`, withValue(s.msg, p, v)))),
      ...(s.strict ?? []).map((p) =>
        fc
          .tuple(unknownKey, fc.jsonValue({ maxDepth: 2 }))
          .map(([k, v]) => mutant(`unknown key ${JSON.stringify(k)} in ${p}`, withExtraKey(s.msg, p, k, v as Json))),
      ),
      fc
        .constantFrom(...nearMisses(s.msg.kind as string))
        .filter((k) => !VALID_KINDS[endpoint].has(k))
        .map((k) => mutant(`kind ${JSON.stringify(k)}`, withValue(s.msg, "kind", k))),
    ];
    return targets;
  });
}

/** Text frames that are not JSON: random strings and corrupted valid frames. */
function nonJsonText(endpoint: Endpoint): fc.Arbitrary<string> {
  const corrupted = fc
    .tuple(
      fc.constantFrom(...SAMPLES[endpoint]).map((s) => JSON.stringify(s.msg)),
      fc.nat(),
      fc.constantFrom("truncate", "insert", "delete", "replace"),
      fc.string({ minLength: 1, maxLength: 3, unit: "binary-ascii" }),
    )
    .map(([text, at, how, junk]) => {
      const i = at % text.length;
      if (how === "truncate") return text.slice(0, i);
      if (how === "insert") return text.slice(0, i) + junk + text.slice(i);
      if (how === "delete") return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + junk + text.slice(i + junk.length);
    });
  return fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), corrupted, corrupted).filter(notJson);
}

/** JSON values that are not a message of a known kind (arrays, scalars, objects without or with a non-string kind…). */
function jsonNotMessage(endpoint: Endpoint): fc.Arbitrary<Json> {
  return fc
    .oneof(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3, stringUnit: "binary" }))
    .filter((v) => !(isObject(v) && typeof v.kind === "string" && VALID_KINDS[endpoint].has(v.kind))) as fc.Arbitrary<Json>;
}

/** Objects whose kind is not one of the endpoint's: random, near misses, server-only kinds, the other endpoint's. */
function unknownKind(endpoint: Endpoint): fc.Arbitrary<JsonObj> {
  const other = endpoint === "stream" ? "commands" : "stream";
  const kind = fc
    .oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom(...ALL_KINDS.flatMap(nearMisses), ...ALL_KINDS), hugeString)
    .filter((k) => !VALID_KINDS[endpoint].has(k));
  const random = fc
    .tuple(kind, fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }))
    .map(([k, fields]) => ({ ...(fields as JsonObj), kind: k }));
  const foreign = SAMPLES[other].filter((s) => !VALID_KINDS[endpoint].has(s.msg.kind as string)).map((s) => s.msg);
  return fc.oneof(random, fc.constantFrom(...foreign));
}

// ---------------------------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------------------------

const url = (path: string, token: string) => `${server.ws}${path}?token=${encodeURIComponent(token)}`;
const PATH: Record<Endpoint, string> = { stream: "/v1/ws/stream", commands: "/v1/ws/commands" };

beforeAll(async () => {
  server = await startServer({ args: ["--role", "hub"], config: "[server]\nmax_frames_per_s = 1000000\n" });
  const operator = server.token("fuzzer", "operator");
  fuzz.stream = await TestClient.connect(url(PATH.stream, operator));
  fuzz.commands = await TestClient.connect(url(PATH.commands, operator));
  viewer = await TestClient.connect(url(PATH.stream, server.token("viewer-1", "viewer")));
  const ack = await viewer.request({
    kind: "subscribe_stream",
    id: "viewer-sub",
    subscription_id: "viewer-sub",
    streams: ["telescope_snapshot"],
    filter: { telescope_uid: TELESCOPE },
  });
  expect(ack.kind).toBe("ack");
  publisher = await TestClient.connect(url(PATH.stream, server.token("node-1", "skynode", [TELESCOPE])));
  publishSnapshot();
});

afterAll(async () => {
  for (const c of [fuzz.stream, fuzz.commands, viewer, publisher]) c?.close();
  if (!server) return;
  const code = await server.stop();
  removeDir(server.dataDir);
  // SIGTERM is a clean shutdown (exit 0): the process never crashed under the fuzzing.
  expect(code).toBe(0);
});

describe("fuzzing both WebSocket endpoints", () => {
  for (const endpoint of ["stream", "commands"] as const) {
    test(`/v1/ws/${endpoint}: every malformed text frame is answered invalid`, async () => {
      const c = fuzz[endpoint];

      // Control: the unmutated samples are valid (whatever their fate: ack, forbidden, not_found, no answer), so it
      // is the mutation that makes each mutant invalid. On a separate connection: a subscribe has side effects.
      const control = await TestClient.connect(url(PATH[endpoint], server.token("control", "operator")));
      for (const s of SAMPLES[endpoint]) {
        const answers = await exchange(control, JSON.stringify(s.msg));
        expect({ sample: s.msg.kind, invalid: answers.filter((a) => a.code === "invalid") }).toEqual({ sample: s.msg.kind, invalid: [] });
      }
      control.close();

      await fc.assert(fc.asyncProperty(nonJsonText(endpoint), async (text) => void (await expectInvalid(c, text))), runs(400));
      await fc.assert(
        fc.asyncProperty(jsonNotMessage(endpoint), async (v) => void (await expectInvalid(c, JSON.stringify(v)))),
        runs(400),
      );
      await fc.assert(
        fc.asyncProperty(unknownKind(endpoint), async (msg) => void (await expectInvalid(c, JSON.stringify(msg)))),
        runs(400),
      );
      // Mutants: every target at least twice, then 1000 more drawn uniformly over the targets.
      const targets = mutationTargets(endpoint);
      for (const target of targets) {
        for (const { mutation, msg } of fc.sample(target, 2)) await expectInvalid(c, JSON.stringify(msg), mutation);
      }
      await fc.assert(
        fc.asyncProperty(fc.oneof(...targets), async ({ mutation, msg }) => void (await expectInvalid(c, JSON.stringify(msg), mutation))),
        runs(1000),
      );
      expect(c.closed).toBeNull();
    }, 60_000);
  }

  test("binary frames, oversized frames and 100 KiB strings are answered invalid on both endpoints", async () => {
    for (const endpoint of ["stream", "commands"] as const) {
      const c = fuzz[endpoint];
      const validBytes = SAMPLES[endpoint].map((s) => new TextEncoder().encode(JSON.stringify(s.msg)));
      const binary = fc.oneof(fc.uint8Array({ maxLength: 4096 }), fc.constantFrom(...validBytes), fc.constant(new Uint8Array(0)));
      await fc.assert(
        fc.asyncProperty(binary, async (bytes) => {
          const answer = await expectInvalid(c, bytes);
          expect(answer.message).toContain("binary");
        }),
        runs(200),
      );

      // Over the 1 MiB limit but under Bun's 4 MiB hard cap: refused by size, whatever the content, socket kept.
      const pad = (n: number) => "x".repeat(n);
      const oversized = [
        JSON.stringify({ kind: "ping", id: "big-ping", pad: pad(1.5 * MiB) }),
        JSON.stringify({ ...SAMPLES[endpoint][0]!.msg, pad: pad(1.5 * MiB) }),
        JSON.stringify({ kind: "publish_telescope_snapshot", telescope_uid: TELESCOPE, snapshot: { blob: pad(2 * MiB) } }),
        "{".repeat(1.5 * MiB),
        pad(MiB + 1),
        JSON.stringify({ kind: "ping", pad: pad(3.5 * MiB) }),
      ];
      for (const frame of oversized) {
        const answer = await expectInvalid(c, frame);
        expect(answer.message).toMatch(/exceeds/);
      }

      // 100 KiB strings in otherwise well-formed messages (ids and uids are capped at 200 chars, a log msg at 64 KiB).
      const huge = "i".repeat(100 * KiB);
      const publishCommand = {
        kind: "publish_command",
        telescope_uid: TELESCOPE,
        command_id: "c",
        command: { command_type: "focuser.move_absolute", position_um: 1 },
      };
      const hugeFields: JsonObj[] =
        endpoint === "stream"
          ? [
              { kind: "subscribe_stream", subscription_id: huge },
              { kind: "unsubscribe_stream", subscription_id: huge },
              { kind: "ping", id: huge },
              { kind: "publish_telescope_snapshot", telescope_uid: huge, snapshot: {} },
              { kind: "publish_telescope_log", telescope_uid: TELESCOPE, entry: { ts: 0, level: "info", msg: huge } },
              { kind: "subscribe_stream", subscription_id: "s", filter: { device_uid: [huge] } },
            ]
          : [
              { kind: "subscribe_commands", subscription_id: huge },
              { ...publishCommand, command_id: huge },
              { ...publishCommand, command: { command_type: "mount.point", target: { type: "named", name: huge } } },
              { ...publishCommand, command: { command_type: "manual_control_lease.acquire", duration_s: 60, purpose: huge } },
              { kind: "cancel_command", command_id: huge },
              { kind: "direct_request", request_id: "r", telescope_uid: TELESCOPE, request_type: huge },
              { kind: "direct_error", request_id: "r", code: "internal", message: huge },
            ];
      for (const msg of hugeFields) await expectInvalid(c, JSON.stringify(msg));
      // Just under the limit a frame is parsed and judged by its content.
      const underLimit = await expectInvalid(c, JSON.stringify({ kind: "ping", id: 42, pad: pad(MiB - 100) }));
      expect(underLimit.message).not.toMatch(/exceeds/);

      // Pathological JSON: deep nesting, empty and whitespace frames, a byte-order mark.
      for (const frame of [
        "[".repeat(200_000),
        `{"kind":"ping","id":7,"x":${"[".repeat(50_000)}${"]".repeat(50_000)}}`,
        "",
        "   ",
        "\uFEFF{}",
        "null",
        '{"kind":null}',
      ]) {
        await expectInvalid(c, frame);
      }
      expect(c.closed).toBeNull();
      expect(c.binary).toEqual([]);
    }
  }, 60_000);

  // max_frame_bytes counts UTF-8 bytes, not UTF-16 units: 1.5 MiB of 3-byte characters is only 0.5 Mi units.
  test("a frame over the limit in UTF-8 bytes but not in UTF-16 units is answered invalid too", async () => {
    const frame = JSON.stringify({ kind: "ping", id: "multibyte", pad: "€".repeat(MiB / 2) });
    expect(Buffer.byteLength(frame)).toBeGreaterThan(1.5 * MiB);
    const answer = await expectInvalid(fuzz.stream, frame);
    expect(answer.message).toMatch(/exceeds/);
  });

  test("an error answer stays small whatever the frame quotes (no echoing megabytes back)", async () => {
    const hugeKey = JSON.stringify({
      kind: "publish_command",
      id: "echo-1",
      telescope_uid: TELESCOPE,
      command_id: "x",
      command: { command_type: "mount.point", target: { type: "named", name: "M31" }, ["k".repeat(900_000)]: 1 },
    });
    const manyKeys = JSON.stringify({
      kind: "subscribe_stream",
      id: "echo-2",
      subscription_id: "s",
      filter: Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`key${i}`, 1])),
    });
    for (const [c, frame] of [[fuzz.commands, hugeKey], [fuzz.stream, manyKeys]] as const) {
      const before = c.received.length;
      const answer = await expectInvalid(c, frame);
      expect(answer.id).toMatch(/^echo-/);
      expect(JSON.stringify(c.received.slice(before)).length).toBeLessThan(16 * 1024);
    }
  });

  test("a well-behaved publisher and subscriber on the same server saw every event, in order", async () => {
    expect(server.proc.exitCode).toBeNull();
    for (const c of [viewer, publisher]) expect(c.closed).toBeNull();
    publishSnapshot();
    const last = published;
    await viewer.next((f) => f.kind === "event_telescope_snapshot" && f.snapshot?.counter === last, 15_000);
    const expected = Array.from({ length: last }, (_, i) => i + 1);

    const events = viewer.received.filter((f) => f.kind === "event_telescope_snapshot");
    expect(events.map((f) => f.snapshot.counter)).toEqual(expected);
    for (const e of events) expect(e).toMatchObject({ subscription_id: "viewer-sub", telescope_uid: TELESCOPE });
    expect(viewer.received.filter((f) => f.kind === "error")).toEqual([]);

    await publisher.next((f) => f.kind === "ack" && f.id === `snap-${last}`, 15_000);
    expect(publisher.received.filter((f) => f.kind === "error")).toEqual([]);
    expect(publisher.received.filter((f) => f.kind === "ack").map((f) => f.id)).toEqual(expected.map((n) => `snap-${n}`));

    // The fuzzed connections were never closed and still work.
    for (const c of [fuzz.stream, fuzz.commands]) {
      expect(c.closed).toBeNull();
      expect(await c.request({ kind: "ping", id: "still-there" })).toMatchObject({ kind: "pong", id: "still-there" });
    }
    for (const c of [viewer, publisher]) expect(c.closed).toBeNull();

    // Alive, and nothing failed inside it (an unexpected exception would be logged at error level and answered
    // `internal`).
    expect(server.proc.exitCode).toBeNull();
    const failures = server
      .logs()
      .split("\n")
      .filter((line) => /"level":(50|60)\b/.test(line));
    expect(failures).toEqual([]);
  }, 30_000);
});
