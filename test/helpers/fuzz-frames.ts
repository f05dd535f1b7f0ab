/**
 * What the WebSocket fuzz tests (test/hub/fuzz.test.ts, test/reliability/fuzz.test.ts) share: how to talk to a fuzzed
 * socket (each frame followed by a probe whose answer closes the answers to that frame), each endpoint's error shape,
 * valid sample frames of all four endpoints and the mutations that are guaranteed to break them, and hostile JSON
 * (deep nesting, huge arrays and strings, odd unicode, numbers at the edges of a double).
 */
import fc from "fast-check";
import {
  COMMAND_TYPES,
  CommandStreamName,
  CommandsInbound,
  ErrorCode,
  GroupMessage,
  MsgTarget,
  MsgType,
  ServerMessage,
  StreamInbound,
  StreamName,
} from "../../app/protocol";
import type { Frame, TestClient } from "./ws-client";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObj = { [k: string]: Json };

export const KiB = 1024;
export const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------------------------
// Endpoints: their probe and their error shape
// ---------------------------------------------------------------------------------------------------------------

export type EndpointName = "stream" | "commands" | "wss" | "v3";

/** How one endpoint is spoken to by the fuzzer. */
export interface Dialect {
  readonly name: EndpointName;
  /** A harmless request whose answer is recognisable: every answer to a frame sent before it comes first, because an
   * endpoint handles one connection's frames in order and answers the invalid ones synchronously. */
  probe(tag: string): object;
  isProbe(f: Frame, tag: string): boolean;
  /** Why `answer` is not a refusal with `code` in this endpoint's error shape for `frame`, or null if it is one. */
  wrongError(answer: Frame, frame: string | Uint8Array, code: string): string | null;
  /** The keys that decide which message a frame is ("kind"; "action"; "msg_type" and "target"). */
  readonly discriminators: readonly string[];
  /** Which values of each discriminator are accepted. */
  readonly valid: Readonly<Record<string, ReadonlySet<string>>>;
  /** Keys that the endpoint's strict objects know: an added key must not be one of them. */
  readonly schemaKeys: ReadonlySet<string>;
}

const kindsOf = (u: { options: readonly { shape: { kind: { value: string } } }[] }) => u.options.map((o) => o.shape.kind.value);
export const VALID_KINDS = { stream: new Set(kindsOf(StreamInbound)), commands: new Set(kindsOf(CommandsInbound)) };
export const SERVER_KINDS = kindsOf(ServerMessage);

/** The depth limit the fuzz servers run with (`[server] max_json_depth`, also the default). */
export const MAX_JSON_DEPTH = 64;
export const MAX_FRAME_BYTES = MiB;

/** The raw frame as the pipeline sees it, if it would get as far as parsing it (not binary, not too large, not too
 * deep, valid JSON); else undefined. An answer may echo an id only from a frame that got that far. */
function parsedFrame(frame: string | Uint8Array): unknown {
  if (typeof frame !== "string" || Buffer.byteLength(frame) > MAX_FRAME_BYTES || jsonDepth(frame) > MAX_JSON_DEPTH) return undefined;
  try {
    return JSON.parse(frame);
  } catch {
    return undefined;
  }
}

const boundedId = (v: unknown) => (typeof v === "string" && v.length > 0 && v.length <= 200 ? v : undefined);
const fieldsOf = (raw: unknown) => (typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {});

/** DESIGN.md §3: an answer echoes the request's `id`, else the id the request is about. */
function v1IdOf(raw: unknown): string | undefined {
  const r = fieldsOf(raw);
  for (const id of [r.id, r.command_id, r.subscription_id, r.request_id]) if (boundedId(id)) return id as string;
  return undefined;
}

/** The `{"kind":"error","id"?,"code","message","details"?}` shape of /v1 and /wss, with the id rule of each. */
function kindErrorShape(idOf: (raw: unknown) => string | undefined) {
  return (answer: Frame, frame: string | Uint8Array, code: string): string | null => {
    if (answer.kind !== "error") return `not an error frame`;
    const extra = Object.keys(answer).filter((k) => !["kind", "id", "code", "message", "details"].includes(k));
    if (extra.length) return `unexpected keys ${extra.join(", ")}`;
    if (answer.code !== code) return `code ${JSON.stringify(answer.code)}, expected ${code}`;
    if (typeof answer.message !== "string" || !answer.message) return "no message";
    if (answer.details !== undefined && (typeof answer.details !== "object" || answer.details === null || Array.isArray(answer.details))) return "details is not an object";
    const raw = parsedFrame(frame);
    const expected = raw === undefined ? undefined : idOf(raw);
    if (answer.id !== undefined && answer.id !== expected) return `echoes id ${JSON.stringify(answer.id)}, expected ${JSON.stringify(expected)}`;
    if (expected !== undefined && answer.id !== expected) return `does not echo the request's id ${JSON.stringify(expected)}`;
    return null;
  };
}

/** Keys of the protocol's strict objects (command payloads, targets, offset patterns, filters, options): an added
 * key must not be one of them, or the mutation might be valid. */
const V1_STRICT_KEYS = new Set(
  (
    "command_type target offset_pattern delta_arcsec axis duration_s binning filter_id strategy filter_wheel_position_id " +
    "position_um delta_um angle_deg delta_deg purpose lease_id type ra_deg dec_deg epoch alt_deg az_deg body name " +
    "width_arcsec height_arcsec step_arcsec dwell_s radius_arcsec petals period_s telescope_uid observatory_uid " +
    "device_type device_uid include_existing"
  ).split(" "),
);

export function v1Dialect(name: "stream" | "commands"): Dialect {
  return {
    name,
    probe: (tag) => ({ kind: "ping", id: tag }),
    isProbe: (f, tag) => f.kind === "pong" && f.id === tag,
    wrongError: kindErrorShape(v1IdOf),
    discriminators: ["kind"],
    valid: { kind: VALID_KINDS[name] },
    schemaKeys: V1_STRICT_KEYS,
  };
}

/** An unsubscribe from a topic never subscribed is acked and changes nothing. */
export const wssDialect: Dialect = {
  name: "wss",
  probe: (tag) => ({ action: "unsubscribe", topic: "fuzz/probe", id: tag }),
  isProbe: (f, tag) => f.kind === "ack" && f.id === tag,
  wrongError: kindErrorShape((raw) => boundedId(fieldsOf(raw).id)),
  discriminators: ["action"],
  valid: { action: new Set(["subscribe", "unsubscribe", "publish"]) },
  schemaKeys: new Set(["action", "topic", "data", "id", "name", "type"]),
};

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** /v3 errors are messages of the group schema echoed to the sender (docs/messaging.md); the probe is an echo. */
export function v3Dialect(group: string, client: string): Dialect {
  return {
    name: "v3",
    probe: (tag) => ({ msg_type: "msg", target: "echo", msg: tag }),
    isProbe: (f, tag) => f.msg_type === "msg" && f.target === "echo" && f.msg === tag && f.cmd === undefined,
    wrongError: (answer, _frame, code) => {
      const shape = GroupMessage.safeParse(answer);
      if (!shape.success) return `not a WS_Message_V3: ${shape.error.issues[0]?.message}`;
      const want = { version: "3", msg_type: "msg", target: "echo", from_id: client, group_id: group, cmd: "ERROR" };
      for (const [k, v] of Object.entries(want)) if (answer[k] !== v) return `${k} ${JSON.stringify(answer[k])}, expected ${JSON.stringify(v)}`;
      if (answer.to_id !== undefined) return "an error carries no to_id";
      if (typeof answer.msg !== "string" || !answer.msg) return "no msg";
      if (answer.payload?.code !== code) return `payload.code ${JSON.stringify(answer.payload?.code)}, expected ${code}`;
      if (!ISO.test(answer.sent_at)) return `sent_at ${answer.sent_at}`;
      return null;
    },
    discriminators: ["msg_type", "target"],
    valid: { msg_type: new Set(MsgType.options), target: new Set(MsgTarget.options) },
    schemaKeys: new Set(["version", "msg_type", "target", "from_id", "to_id", "group_id", "cmd", "msg", "payload", "sent_at"]),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A fuzzed connection
// ---------------------------------------------------------------------------------------------------------------

export function preview(frame: string | Uint8Array): string {
  if (typeof frame !== "string") return `binary frame of ${frame.length} bytes`;
  return frame.length > 600 ? `${JSON.stringify(frame.slice(0, 600))}… (${frame.length} chars)` : JSON.stringify(frame);
}

let probeSeq = 0;

/** A socket under fuzz, and what it was sent. `onFrame` runs after each exchange (the tests interleave well-behaved
 * traffic with the fuzzing there). */
export class Fuzzed {
  frames = 0;
  constructor(
    readonly client: TestClient,
    readonly dialect: Dialect,
    private readonly onFrame: () => void = () => {},
  ) {}

  /** Sends `frame` then a probe, and returns every frame the server sent back before the probe's answer: exactly the
   * answers to `frame`. */
  async exchange(frame: string | Uint8Array, timeoutMs = 15_000): Promise<Frame[]> {
    const c = this.client;
    if (c.closed) throw new Error(`${this.dialect.name}: fuzz connection is closed (${c.closed.code} ${c.closed.reason})`);
    const start = c.received.length;
    const tag = `probe-${++probeSeq}`;
    c.send(frame);
    c.send(this.dialect.probe(tag));
    const isProbe = (f: Frame) => this.dialect.isProbe(f, tag);
    const outcome = await Promise.race([
      c.next(isProbe, timeoutMs).then(
        () => "answered" as const,
        (e: Error) => e,
      ),
      c.waitClosed().then((cl) => new Error(`server closed the fuzz connection (${cl.code} ${cl.reason})`)),
    ]);
    if (outcome !== "answered") throw new Error(`${this.dialect.name}: ${outcome.message}; frame: ${preview(frame)}`);
    this.frames++;
    this.onFrame();
    const after = c.received.slice(start);
    return after.slice(0, after.findIndex(isProbe));
  }

  /** Sends one bad frame and checks that it got exactly one answer: a refusal with `code` in the endpoint's shape. */
  async refused(frame: string | Uint8Array, label = "", code = "invalid"): Promise<Frame> {
    const answers = await this.exchange(frame);
    const [answer] = answers;
    const problem = answers.length !== 1 ? `${answers.length} answers` : this.dialect.wrongError(answer!, frame, code);
    if (problem) {
      const what = `${label ? `(${label}) ` : ""}${preview(frame)}`;
      throw new Error(`${this.dialect.name}: expected exactly one ${code} error for ${what}: ${problem}; got ${preview(JSON.stringify(answers))}`);
    }
    return answer!;
  }
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
export const runs = (numRuns: number) => ({ numRuns, endOnFailure: true, plugins: [compactReport] });

// ---------------------------------------------------------------------------------------------------------------
// JSON paths and raw JSON text
// ---------------------------------------------------------------------------------------------------------------

export type JsonType = "null" | "boolean" | "number" | "string" | "array" | "object";
export const jsonType = (v: unknown): JsonType =>
  v === null ? "null" : Array.isArray(v) ? "array" : (typeof v as "boolean" | "number" | "string" | "object");
export const isObject = (v: unknown): v is JsonObj => jsonType(v) === "object";

/** The object or array at `path` ("" is the root). */
function nodeAt(root: JsonObj, path: string): Record<string, Json> {
  let node: unknown = root;
  for (const k of path ? path.split(".") : []) node = (node as Record<string, unknown>)[k];
  if (node === null || typeof node !== "object") throw new Error(`bad sample path ${path}`);
  return node as Record<string, Json>;
}
export function parentOf(root: JsonObj, path: string): [Record<string, Json>, string] {
  const keys = path.split(".");
  const last = keys.pop()!;
  return [nodeAt(root, keys.join(".")), last];
}
export function withValue(msg: JsonObj, path: string, value: Json): JsonObj {
  const copy = structuredClone(msg);
  const [parent, key] = parentOf(copy, path);
  if (!(key in parent)) throw new Error(`sample has no ${path}`);
  parent[key] = value;
  return copy;
}
export function without(msg: JsonObj, path: string): JsonObj {
  const copy = structuredClone(msg);
  const [parent, key] = parentOf(copy, path);
  if (!(key in parent)) throw new Error(`sample has no ${path}`);
  delete parent[key];
  return copy;
}
/** Adds an own key (defineProperty, so that "__proto__" becomes a real key of the JSON text). */
export function withExtraKey(msg: JsonObj, objectPath: string, key: string, value: Json): JsonObj {
  const copy = structuredClone(msg);
  const target = nodeAt(copy, objectPath);
  if (!isObject(target)) throw new Error(`sample has no object at ${objectPath}`);
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}
/** Every path of `v` except the free-form ones (and what is inside them). */
export function pathsOf(v: unknown, free: ReadonlySet<string>, prefix = ""): string[] {
  if (v === null || typeof v !== "object") return [];
  return Object.entries(v).flatMap(([k, child]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return free.has(p) ? [] : [p, ...pathsOf(child, free, p)];
  });
}

const RAW = "\u0001raw-json\u0001";
/** The frame text of `msg` with the value at `path` replaced by `raw` (JSON text written by hand: numbers a double
 * cannot hold, nesting JSON.stringify would overflow on, duplicate keys). */
export function withRaw(msg: JsonObj, path: string, raw: string): string {
  const text = JSON.stringify(withValue(msg, path, RAW));
  const marker = JSON.stringify(RAW);
  const at = text.indexOf(marker);
  return text.slice(0, at) + raw + text.slice(at + marker.length);
}
/** The frame text of `msg` with `"key":raw` added again at the end of the object at `objectPath`: JSON.parse keeps
 * the last of duplicate keys, so the frame means the raw value. */
export function withDuplicateKey(msg: JsonObj, objectPath: string, key: string, raw: string): string {
  const object = JSON.stringify(nodeAt(msg, objectPath));
  const dup = `${object.slice(0, -1)}${object.length > 2 ? "," : ""}${JSON.stringify(key)}:${raw}}`;
  return objectPath ? withRaw(msg, objectPath, dup) : dup;
}
/** How many arrays and objects enclose the value at `path` of a frame (the frame itself is the first). */
export const depthAt = (path: string) => path.split(".").length;

/** The deepest nesting of arrays and objects in JSON text, strings skipped (a reference for the server's own scan). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") max = Math.max(max, ++depth);
    else if (c === "]" || c === "}") depth--;
  }
  return max;
}

export const notJson = (s: string) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
};

/** What a server that parses a value and serialises it again sends: JSON's own normalisation (-0 is 0, a number
 * beyond a double is Infinity and then null, the last of duplicate keys wins). */
export const reserialized = (rawJson: string): string => JSON.stringify(JSON.parse(rawJson));

// ---------------------------------------------------------------------------------------------------------------
// Hostile JSON
// ---------------------------------------------------------------------------------------------------------------

export type NestStyle = "array" | "object" | "mixed";
/** Valid JSON nested `depth` deep (the innermost value is 0). */
export function nested(depth: number, style: NestStyle): string {
  if (style === "array") return "[".repeat(depth) + "0" + "]".repeat(depth);
  if (style === "object") return '{"a":'.repeat(depth) + "0" + "}".repeat(depth);
  const half = depth >> 1;
  return '[{"a":'.repeat(half) + (depth % 2 ? "[0]" : "0") + "}]".repeat(half);
}
/** `depth` openers that never close: not JSON, and deeper than any limit. */
export const unclosed = (depth: number, opener: "[" | "{" | '{"a":') => opener.repeat(depth);

/** Strings that trip up code handling text: lone and reversed surrogates, bidi overrides, NUL and other controls, a
 * BOM, zero-width and combining characters, characters of 2, 3 and 4 UTF-8 bytes, line separators, JSON's own
 * metacharacters, and brackets (a depth scan must skip strings). */
export const ODD_STRINGS = [
  "\ud800",
  "\udfff",
  "a\udc00\ud800b",
  "\u202eevil\u202c",
  "\u200f\u05e9\u05dc\u05d5\u05dd",
  "\u0645\u0631\u062d\u0628\u0627",
  "\u0000",
  "nul\u0000inside",
  "\u0001\u001f\u007f",
  "\ufeff",
  "\u200b\u200d\u2060",
  "e\u0301\u0301\u0301",
  "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}",
  "\u{1d11e}",
  "\u2028\u2029",
  "\\",
  '"',
  '\\"',
  "[[[[[[[[[[",
  '{"a":{"a":',
  "]]]}}}",
  "\uffff\ufffe",
  "",
];

/** Number texts at the edges of a double, as JSON may spell them (some only by hand: 30 digits, 1e400). */
export const EDGE_NUMBERS = [
  "1e308",
  "-1e308",
  "1.7976931348623157e308",
  "-0",
  "-0.0",
  "0e0",
  "1e-300",
  "5e-324",
  "1e-400",
  "9007199254740993",
  "-9007199254740993",
  "123456789012345678901234567890",
  "1e400",
  "-1e400",
  "0.1e1",
  "1E+2",
];

/** Raw JSON text of a valid value, at most `maxDepth` deep, full of odd strings and edge numbers (keys too), with
 * duplicate keys now and then; never a key "__proto__" (a test of its own). */
export function hostileJson(maxDepth: number): fc.Arbitrary<string> {
  const str = fc.oneof(fc.constantFrom(...ODD_STRINGS), fc.string({ unit: "binary", maxLength: 12 })).map((s) => JSON.stringify(s));
  const num = fc.oneof(fc.constantFrom(...EDGE_NUMBERS), fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)));
  const leaf = fc.oneof(str, num, fc.constantFrom("true", "false", "null"));
  const key = fc.oneof(fc.constantFrom(...ODD_STRINGS), fc.string({ unit: "binary", maxLength: 8 })).filter((k) => k !== "__proto__");
  const tree = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("value"), { maxLength: 4 }).map((xs) => `[${xs.join(",")}]`),
      fc
        .array(fc.tuple(key, tie("value")), { maxLength: 4 })
        .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`),
    ),
  })).value;
  const bounded = tree.filter((t) => jsonDepth(t) <= maxDepth);
  return fc.oneof(
    { arbitrary: bounded, weight: 6 },
    // Big, but under the frame limit: a long array, a long string, a string of brackets, an object of many keys.
    // (Each at most ~600 KB of text, so that the frame stays under the 1 MiB limit: a lone surrogate is 6 bytes once
    // escaped.)
    { arbitrary: fc.tuple(fc.integer({ min: 10_000, max: 100_000 }), num).map(([n, x]) => hugeArray(Math.min(n, Math.floor(600_000 / (x.length + 1))), x)), weight: 1 },
    { arbitrary: fc.tuple(fc.integer({ min: 50 * KiB, max: 100 * KiB }), fc.constantFrom(...ODD_STRINGS.filter(Boolean))).map(([n, s]) => JSON.stringify(s.repeat(Math.ceil(n / s.length)))), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: Math.min(4, maxDepth - 1) }).map((d) => `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${nested(d, "array")}`).join(",")}}`), weight: 1 },
    // Exactly as deep as the limit allows here.
    { arbitrary: fc.constantFrom<NestStyle>("array", "object", "mixed").map((s) => nested(maxDepth, s)), weight: 1 },
  );
}

/** A nesting depth from `min` on: just past the limit as often as 100,000 deep. */
export const overDepth = (min: number) =>
  fc.oneof(fc.integer({ min, max: min + 3 }), fc.integer({ min, max: 100_000 }), fc.constantFrom(100_000, 200_000));

/** A huge array of `n` copies of `element` (raw JSON). */
export const hugeArray = (n: number, element = "0") => `[${Array(n).fill(element).join(",")}]`;

// ---------------------------------------------------------------------------------------------------------------
// Values that break a field
// ---------------------------------------------------------------------------------------------------------------

/** 100–150 Ki code points (zod measures string limits in code points): over every string limit of the protocol
 * (ids 200, log msg 64 Ki, messages 4 Ki). */
export const hugeString = fc
  .tuple(fc.integer({ min: 100 * KiB, max: 150 * KiB }), fc.constantFrom("a", "Z", "0", "é", "€", "😀", " ", "\u202e", "\u0000"))
  .map(([n, ch]) => ch.repeat(n));
const badUid = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9._:@-]{0,20}$/),
    fc.constantFrom(" ", "/", "#", "é", "\n", "\u0000", "*", "?", "%", "\\", '"', "😀", "\u200b", "\u202e", "\ud800", "\ufeff", "\u2028", "\u0627"),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, b, c]) => a + b + c);
/** For a ClientId (string 1..200). */
export const badId = fc.oneof(hugeString, fc.constant(""));
/** For a Uid (string 1..200 of [A-Za-z0-9._:@-]). */
export const badUidValue = fc.oneof(hugeString, fc.constant(""), badUid);
/** For a topic name (1..200 of letters, digits and _ . : / @ -). */
const badTopic = fc.oneof(
  fc.constant(""),
  fc.constant("t".repeat(201)),
  badUid.filter((s) => !/^[A-Za-z0-9_.:/@-]+$/.test(s)),
);
/** For a /v3 peer id (1..200, no "/" or control characters). */
const badPeer = fc.oneof(
  fc.constant(""),
  fc.constant("p".repeat(201)),
  fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom("/", "\u0000", "\n", "\u001f", "\t"), fc.string({ maxLength: 8 })).map(([a, b, c]) => a + b + c),
);

export function nearMisses(s: string): string[] {
  return [
    s.toUpperCase(),
    s.charAt(0).toUpperCase() + s.slice(1),
    `${s} `,
    ` ${s}`,
    `${s}\u0000`,
    `${s}\u200b`,
    `\u202e${s}`,
    s.replaceAll("_", "-"),
    s.replaceAll(".", "_"),
    s.slice(0, -1),
    `${s}s`,
    `event_${s}`,
  ].filter((m) => m !== s);
}
/** A string that is not one of `allowed`, often a near miss of `near`. */
export const notIn = (allowed: readonly string[], near: string) =>
  fc.oneof(fc.constantFrom(...nearMisses(near)), fc.string(), fc.string({ unit: "binary" })).filter((s) => !allowed.includes(s));

// Numbers outside a range: JSON carries them exactly (fast-check doubles round-trip through JSON.stringify).
// Half of them close to the bound (a uniform double over a huge range would almost never be near it).
const nearBound = (bound: number) => Math.max(1, Math.abs(bound));
export const below = (min: number) =>
  fc
    .oneof(
      fc.double({ min: min - nearBound(min), max: min, maxExcluded: true, noNaN: true }),
      fc.double({ min: -1e300, max: min, maxExcluded: true, noNaN: true }),
    )
    .filter((x) => x < min);
export const above = (max: number) =>
  fc
    .oneof(
      fc.double({ min: max, minExcluded: true, max: max + nearBound(max), noNaN: true }),
      fc.double({ min: max, minExcluded: true, max: 1e300, noNaN: true }),
    )
    .filter((x) => x > max);
export const atLeast = (max: number) =>
  fc.oneof(fc.double({ min: max, max: max + nearBound(max), noNaN: true }), fc.double({ min: max, max: 1e300, noNaN: true }));
export const outside = (min: number, max: number) => fc.oneof(below(min), above(max));
const fraction = (min: number, max: number) => fc.double({ min, max, noNaN: true }).filter((x) => !Number.isInteger(x));
/** For an integer in [min, max] (max < 2^31). */
export const badInt = (min: number, max: number) =>
  fc.oneof(fc.integer({ min: -(2 ** 31), max: min - 1 }), fc.integer({ min: max + 1 }), fraction(min, max));
/** For an integer ≥ min with no upper bound. */
export const badIntFrom = (min: number) => fc.oneof(fc.integer({ min: -(2 ** 31), max: min - 1 }), fraction(min, 1e9));

/** Any JSON value of a type other than `accepted`. */
export const wrongType = (accepted: readonly JsonType[]) =>
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

/** Raw JSON of a type other than `accepted` that JSON.stringify cannot write: numbers beyond a double (Infinity once
 * parsed, which no schema takes), 30-digit integers, -0 and friends, and huge arrays. */
const rawWrongType = (accepted: readonly JsonType[]) =>
  fc.oneof(
    ...(accepted.includes("number") ? [fc.constantFrom("1e400", "-1e400", "1E999")] : [fc.constantFrom(...EDGE_NUMBERS)]),
    ...(accepted.includes("array") ? [] : [fc.integer({ min: 10_000, max: 150_000 }).map((n) => hugeArray(n, n % 2 ? "0" : '"x"'))]),
  );

const unknownKey = (known: ReadonlySet<string>) =>
  fc
    .oneof(
      fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "Type", "ra_deg ", "", "kind", "action", "msg_type", ...ODD_STRINGS),
      fc.string(),
      fc.string({ unit: "binary" }),
    )
    .filter((k) => !known.has(k));

// ---------------------------------------------------------------------------------------------------------------
// Valid samples and the mutations that must break them
// ---------------------------------------------------------------------------------------------------------------

export interface Sample {
  msg: JsonObj;
  /** Fields whose removal makes the message invalid (`id` and defaulted fields are optional, so never listed). */
  required: string[];
  /** Objects that refuse unknown keys ("" = the message itself; /v1 envelopes are not strict: a ping with extra
   * fields is valid). */
  strict?: string[];
  /** Free-form values (inside snapshots, payloads, result data…): not mutated, but the place for nesting. */
  free?: string[];
  /** Fields that accept more than the JSON type of the sample's value. */
  types?: Record<string, JsonType[]>;
  /** Values of the right type that break the field's constraints (range, length, pattern, enum). */
  bad?: Record<string, fc.Arbitrary<Json>>;
}

export interface Mutant {
  mutation: string;
  text: string;
}

const nameOf = (s: Sample, d: Dialect) => `${d.discriminators.map((k) => s.msg[k]).join("/")}${s.msg.id ? ` ${s.msg.id}` : ""}`;

/** Every way to break a sample that is guaranteed to make it invalid, one arbitrary per target (field × kind of
 * mutation: delete, retype, retype by a duplicate key, retype to what only raw JSON can say, break the value, add an
 * unknown key, near-miss the discriminator, nest a free-form value past the depth limit); the values are random. */
export function mutationTargets(samples: readonly Sample[], d: Dialect): fc.Arbitrary<Mutant>[] {
  return samples.flatMap((s) => {
    const name = nameOf(s, d);
    const mutant = (mutation: string, text: string): Mutant => ({ mutation: `${name}: ${mutation}`, text });
    const typed = pathsOf(s.msg, new Set(s.free ?? []));
    const accepted = (p: string) => {
      const [parent, key] = parentOf(s.msg, p);
      return s.types?.[p] ?? [jsonType(parent[key])];
    };
    return [
      ...s.required.map((p) => fc.constant(mutant(`delete ${p}`, JSON.stringify(without(s.msg, p))))),
      ...typed.map((p) => wrongType(accepted(p)).map((v) => mutant(`retype ${p}`, JSON.stringify(withValue(s.msg, p, v))))),
      ...typed
        .filter((p) => !Array.isArray(parentOf(s.msg, p)[0]))
        .map((p) => {
          const objectPath = p.split(".").slice(0, -1).join(".");
          const key = p.split(".").at(-1)!;
          return wrongType(accepted(p)).map((v) => mutant(`duplicate ${p} with a wrong type last`, withDuplicateKey(s.msg, objectPath, key, JSON.stringify(v))));
        }),
      ...typed.map((p) => rawWrongType(accepted(p)).map((raw) => mutant(`raw ${raw.length > 20 ? `${raw.slice(0, 12)}…` : raw} at ${p}`, withRaw(s.msg, p, raw)))),
      ...Object.entries(s.bad ?? {}).map(([p, arb]) => arb.map((v) => mutant(`break ${p}`, JSON.stringify(withValue(s.msg, p, v))))),
      ...(s.strict ?? []).map((p) =>
        fc
          .tuple(unknownKey(d.schemaKeys), fc.jsonValue({ maxDepth: 2 }))
          .map(([k, v]) => mutant(`unknown key ${JSON.stringify(k)} in ${p || "the message"}`, JSON.stringify(withExtraKey(s.msg, p, k, v as Json)))),
      ),
      ...d.discriminators.map((k) =>
        fc
          .constantFrom(...nearMisses(s.msg[k] as string))
          .filter((v) => !d.valid[k]!.has(v))
          .map((v) => mutant(`${k} ${JSON.stringify(v)}`, JSON.stringify(withValue(s.msg, k, v)))),
      ),
      ...(s.free ?? []).map((p) =>
        fc
          .tuple(overDepth(MAX_JSON_DEPTH - depthAt(p) + 1), fc.constantFrom<NestStyle>("array", "object", "mixed"))
          .map(([n, style]) => mutant(`${p} nested ${n} deep (${style})`, withRaw(s.msg, p, nested(n, style)))),
      ),
    ];
  });
}

/** Text frames that are not JSON: random strings (odd unicode included) and corrupted valid frames. */
export function nonJsonText(samples: readonly Sample[]): fc.Arbitrary<string> {
  const corrupted = fc
    .tuple(
      fc.constantFrom(...samples).map((s) => JSON.stringify(s.msg)),
      fc.nat(),
      fc.constantFrom("truncate", "insert", "delete", "replace"),
      fc.oneof(fc.string({ minLength: 1, maxLength: 3, unit: "binary-ascii" }), fc.constantFrom(...ODD_STRINGS.filter(Boolean))),
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

/** Whether a value names a message of the endpoint by all its discriminators (only such a value can be valid). */
const namesMessage = (v: unknown, d: Dialect) => isObject(v) && d.discriminators.every((k) => typeof v[k] === "string" && d.valid[k]!.has(v[k] as string));

/** JSON values that are not a message of a known kind (arrays, scalars, objects without or with a wrong
 * discriminator…). */
export function jsonNotMessage(d: Dialect): fc.Arbitrary<Json> {
  return fc
    .oneof(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3, stringUnit: "binary" }))
    .filter((v) => !namesMessage(v, d)) as fc.Arbitrary<Json>;
}

/** Objects whose discriminator is not one of the endpoint's: random, near misses, server-only kinds, huge, and valid
 * frames of the other endpoints. */
export function unknownKind(d: Dialect, foreign: readonly Sample[]): fc.Arbitrary<JsonObj> {
  const all = [...new Set([...VALID_KINDS.stream, ...VALID_KINDS.commands, ...SERVER_KINDS, "subscribe", "publish", "unsubscribe", ...MsgType.options, ...MsgTarget.options])];
  const [first, ...rest] = d.discriminators;
  const wrong = fc
    .oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom(...all.flatMap(nearMisses), ...all, ...ODD_STRINGS), hugeString)
    .filter((k) => !d.valid[first!]!.has(k));
  const random = fc
    .tuple(wrong, fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }), fc.constantFrom(...rest.map((k) => [...d.valid[k]!][0]!), undefined))
    .map(([k, fields, other]) => ({ ...(fields as JsonObj), ...(other && rest[0] ? { [rest[0]]: other } : {}), [first!]: k }));
  const strangers = foreign.map((s) => s.msg).filter((m) => !namesMessage(m, d));
  return strangers.length ? fc.oneof(random, fc.constantFrom(...strangers)) : random;
}

// ---------------------------------------------------------------------------------------------------------------
// The sample catalogue: a valid frame of every inbound message of the four endpoints
// ---------------------------------------------------------------------------------------------------------------

export const TELESCOPE = "sim-1";
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

export const STREAM_SAMPLES: Sample[] = [
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

export const COMMAND_SAMPLES: Sample[] = [
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
      // The schema's floors (radius >= 0.1", period >= 1 s): anything below them.
      "command.offset_pattern.radius_arcsec": fc.oneof(below(0.1), above(36000)),
      "command.offset_pattern.petals": badInt(1, 32),
      "command.offset_pattern.period_s": fc.oneof(below(1), above(86400)),
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
    // The schema's floor is 1 s.
    { "command.duration_s": fc.oneof(fc.double({ min: -1e300, max: 1, maxExcluded: true, noNaN: true }), above(86400)), "command.purpose": hugeString },
  ),
  command(
    "renew",
    { command_type: "manual_control_lease.renew", lease_id: "lease-1", duration_s: 60 },
    { "command.lease_id": badId, "command.duration_s": fc.oneof(fc.double({ min: -1e300, max: 1, maxExcluded: true, noNaN: true }), above(86400)) },
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

/** /wss (seed 003): every object is strict; `data.data` is any JSON value but must be there. */
export const TOPIC_SAMPLES: Sample[] = [
  {
    msg: { action: "subscribe", topic: "fuzz/sample", id: "t-1" },
    required: ["action", "topic"],
    strict: [""],
    bad: { topic: badTopic, id: fc.constantFrom("", "i".repeat(201)) },
  },
  {
    msg: { action: "unsubscribe", topic: "fuzz/sample", id: "t-2" },
    required: ["action", "topic"],
    strict: [""],
    bad: { topic: badTopic, id: fc.constantFrom("", "i".repeat(201)) },
  },
  {
    msg: { action: "publish", topic: "fuzz/sample", id: "t-3", data: { name: "note", type: "text", data: { text: "clear skies", n: [1, 2] } } },
    required: ["action", "topic", "data", "data.name", "data.type", "data.data"],
    strict: ["", "data"],
    free: ["data.data"],
    bad: { topic: badTopic, "data.name": fc.constant("n".repeat(201)), "data.type": fc.constant("\u202e".repeat(201)) },
  },
];

/** /v3 (seed 004): one strict object; `null` counts as absent; the server-filled fields take anything. */
const V3_SERVER_FILLED = ["version", "from_id", "group_id", "sent_at"];
const v3Types: Record<string, JsonType[]> = { to_id: ["string", "null"], cmd: ["string", "null"], msg: ["string", "null"], payload: ["object", "null"] };
export const GROUP_SAMPLES: Sample[] = [
  {
    msg: { msg_type: "msg", target: "group", cmd: "note", msg: "hello", payload: { a: 1, b: [true] } },
    required: ["msg_type", "target"],
    strict: [""],
    free: ["payload.a", "payload.b"],
    types: v3Types,
    bad: { cmd: fc.constant("c".repeat(201)) },
  },
  {
    // Nobody has this client id: a valid frame is answered not_found, never delivered to anyone.
    msg: { msg_type: "msg", target: "direct", to_id: "nobody-has-this-id", msg: "psst" },
    required: ["msg_type", "target", "to_id"],
    strict: [""],
    types: v3Types,
    bad: { to_id: badPeer },
  },
  {
    msg: { msg_type: "cmd", target: "echo", cmd: "status", version: "2", from_id: "spoof", group_id: "other", sent_at: "then", payload: { q: "x" } },
    required: ["msg_type", "target"],
    strict: [""],
    free: [...V3_SERVER_FILLED, "payload.q"],
    types: v3Types,
    bad: { cmd: fc.constant("\u0000".repeat(201)) },
  },
  { msg: { msg_type: "heartbeat", target: "echo" }, required: ["msg_type", "target"], strict: [""] },
];

export const SAMPLES: Record<EndpointName, Sample[]> = { stream: STREAM_SAMPLES, commands: COMMAND_SAMPLES, wss: TOPIC_SAMPLES, v3: GROUP_SAMPLES };
/** Valid frames of every endpoint but `name` (wrong-endpoint kinds). */
export const foreignSamples = (name: EndpointName) => (Object.keys(SAMPLES) as EndpointName[]).filter((n) => n !== name).flatMap((n) => SAMPLES[n]);
