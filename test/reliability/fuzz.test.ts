/**
 * Fuzzing all four WebSocket endpoints of one real server (/v1/ws/stream, /v1/ws/commands, /wss, /v3/ws) with
 * fast-check: bad JSON, JSON that is no message, wrong kinds (other endpoints' frames too), every sample frame
 * mutated (fields deleted, retyped, duplicated with a wrong value last, broken, unknown keys), frames nested up to
 * 200,000 deep (whole frames, and inside the free-form snapshot/data/payload/details fields), huge arrays, long
 * strings, odd unicode (lone surrogates, bidi overrides, NUL), numbers at the edges of a double, binary and oversized
 * frames. Each bad frame must get exactly one answer, an `invalid` error in that endpoint's own shape; hostile but
 * valid free-form JSON must come back as sent. The fuzzed sockets stay open (only a frame over 4× the size limit
 * may close one, 1009), and after each batch `/healthz` answers 200 and well-behaved clients on every endpoint (a
 * SkyNode and a viewer on /v1/ws/stream, a publisher and a subscriber on /wss, two members of a /v3 group) have
 * received all of their events, in order. The /v1 schema sweep in depth is test/hub/fuzz.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  depthAt,
  EDGE_NUMBERS,
  foreignSamples,
  Fuzzed,
  hostileJson,
  hugeArray,
  jsonNotMessage,
  MAX_JSON_DEPTH,
  MiB,
  mutationTargets,
  nested,
  nonJsonText,
  ODD_STRINGS,
  reserialized,
  runs,
  SAMPLES,
  unclosed,
  unknownKind,
  v1Dialect,
  v3Dialect,
  withRaw,
  wssDialect,
  type Dialect,
  type EndpointName,
  type JsonObj,
} from "../helpers/fuzz-frames";
import { issueApiKey } from "../helpers/api-key";
import { startServer, type TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { TestClient, type Frame } from "../helpers/ws-client";

const ENDPOINTS: EndpointName[] = ["stream", "commands", "wss", "v3"];
const PATH: Record<EndpointName, string> = { stream: "/v1/ws/stream", commands: "/v1/ws/commands", wss: "/wss", v3: "/v3/ws" };
/** The telescope the well-behaved SkyNode publishes for, and the one the fuzzing SkyNode publishes hostile snapshots for. */
const CALM = "calm-1";
const FUZZ_SCOPE = "fuzz-1";
const HEARTBEAT_EVERY = 25;
/** fast-check runs per property: about 20 s for the whole file on this 2-core machine when it is otherwise idle. */
const RUNS = { random: 500, mutants: 2000, hostile: 300, binary: 100 };

const newDir = freshDirs();
let server: TestServer;
let apiKey: string;
const fuzz = {} as Record<EndpointName, Fuzzed>;
/** A SkyNode of FUZZ_SCOPE on /v1/ws/stream subscribed to its own snapshots: hostile snapshots come back to it. */
let skyFuzz: Fuzzed;
const calm = {} as Record<"publisher" | "viewer" | "wssPublisher" | "wssSubscriber" | "v3Sender" | "v3Member", TestClient>;
const all: TestClient[] = [];
let ticks = 0;
let fuzzed = 0;

async function connect(url: string): Promise<TestClient> {
  const c = await TestClient.connect(url);
  all.push(c);
  return c;
}
const v1 = (path: string, token: string) => connect(`${server.ws}${path}?token=${encodeURIComponent(token)}`);
async function member(group: string, client: string, sub: string): Promise<TestClient> {
  const c = await connect(`${server.ws}/v3/ws/group/${group}/client/${client}?api_key=${apiKey}&jwt=${server.token(sub, "operator")}`);
  // Its presence snapshot comes first: from then on the connection is registered.
  await c.next((f) => f.msg_type === "presence" && f.payload?.event === "snapshot");
  return c;
}
async function fuzzer(endpoint: EndpointName, as = "fuzzer", group = "fuzz"): Promise<Fuzzed> {
  const operator = server.token(as, "operator");
  if (endpoint === "v3") return new Fuzzed(await member(group, as, as), v3Dialect(group, as), heartbeat);
  if (endpoint === "wss") return new Fuzzed(await v1("/wss", operator), wssDialect, heartbeat);
  return new Fuzzed(await v1(PATH[endpoint], operator), v1Dialect(endpoint), heartbeat);
}

/** The well-behaved clients' next event: one of each kind, counter = 1, 2, 3, … */
function tick(): void {
  const n = ++ticks;
  calm.publisher.send({ kind: "publish_telescope_snapshot", id: `calm-${n}`, telescope_uid: CALM, snapshot: { counter: n } });
  calm.wssPublisher.send({ action: "publish", topic: "calm/chat", id: `calm-${n}`, data: { name: "tick", type: "counter", data: { counter: n } } });
  calm.v3Sender.send({ msg_type: "msg", target: "group", msg: `calm-${n}`, payload: { counter: n } });
}
function heartbeat(): void {
  if (++fuzzed % HEARTBEAT_EVERY === 0) tick();
}

/** What each well-behaved client must have received: its counters, and which frames carry them. */
const EXPECTATIONS: [keyof typeof calm, string, (f: Frame) => number | undefined][] = [
  ["viewer", "telescope snapshots on /v1/ws/stream", (f) => (f.kind === "event_telescope_snapshot" && f.telescope_uid === CALM ? f.snapshot?.counter : undefined)],
  ["publisher", "acks of its snapshots", (f) => (f.kind === "ack" && /^calm-\d+$/.test(f.id) ? Number(f.id.slice(5)) : undefined)],
  ["wssSubscriber", "calm/chat messages", (f) => (f.kind === "message" && f.topic === "calm/chat" ? f.data?.data?.counter : undefined)],
  ["wssSubscriber", `the telescope_snapshot/${CALM} topic`, (f) => (f.kind === "message" && f.topic === `telescope_snapshot/${CALM}` ? f.data?.data?.counter : undefined)],
  ["wssPublisher", "acks of its publishes", (f) => (f.kind === "ack" && /^calm-\d+$/.test(f.id) ? Number(f.id.slice(5)) : undefined)],
  ["v3Member", "group messages", (f) => (f.msg_type === "msg" && f.target === "group" && f.from_id === "calm-sender" ? f.payload?.counter : undefined)],
  ["v3Sender", "its own group messages", (f) => (f.msg_type === "msg" && f.target === "group" && f.from_id === "calm-sender" ? f.payload?.counter : undefined)],
];
const isErrorFrame = (f: Frame) => f.kind === "error" || f.cmd === "ERROR";

/** After a batch: the server is up and healthy, every fuzzed socket is open, and every well-behaved client has had
 * every event so far, in order, and no error. */
async function checkpoint(): Promise<void> {
  expect(server.proc.exitCode).toBeNull();
  const health = await fetch(`${server.http}/healthz`);
  expect(health.status).toBe(200);
  expect(((await health.json()) as { status: string }).status).toBe("ok");
  for (const f of [...Object.values(fuzz), skyFuzz]) expect({ endpoint: f.dialect.name, closed: f.client.closed }).toEqual({ endpoint: f.dialect.name, closed: null });
  tick();
  const last = ticks;
  const want = Array.from({ length: last }, (_, i) => i + 1);
  for (const [who, what, counter] of EXPECTATIONS) {
    const c = calm[who];
    await c.next((f) => counter(f) === last, 15_000).catch((e: Error) => {
      throw new Error(`${who} never got ${what} #${last}: ${e.message.slice(0, 300)}`);
    });
    const got = c.received.map(counter).filter((n) => n !== undefined);
    expect({ who, what, got }).toEqual({ who, what, got: want });
    expect({ who, closed: c.closed, errors: c.received.filter(isErrorFrame) }).toEqual({ who, closed: null, errors: [] });
  }
}

beforeAll(async () => {
  // Not rate-limited: the fuzzer sends far more than the default 500 frames/s on one connection.
  server = await startServer({ dataDir: newDir(), args: ["--role", "hub"], config: `[server]\nmax_frames_per_s = 1000000\nmax_json_depth = ${MAX_JSON_DEPTH}\n` });
  apiKey = await issueApiKey(server.dataDir, "fuzz");
  for (const e of ENDPOINTS) fuzz[e] = await fuzzer(e);
  // The fuzzing /wss socket reads the topic it publishes hostile data on.
  expect(await fuzz.wss.client.request({ action: "subscribe", topic: "fuzz/echo", id: "echo-sub" })).toMatchObject({ kind: "ack" });
  skyFuzz = new Fuzzed(await v1(PATH.stream, server.token("fuzz-node", "skynode", [FUZZ_SCOPE])), v1Dialect("stream"), heartbeat);
  const own = { kind: "subscribe_stream", id: "self", subscription_id: "self", streams: ["telescope_snapshot"], filter: { telescope_uid: FUZZ_SCOPE }, options: { include_existing: false } };
  expect(await skyFuzz.client.request(own)).toMatchObject({ kind: "ack" });

  calm.publisher = await v1(PATH.stream, server.token("calm-node", "skynode", [CALM]));
  calm.viewer = await v1(PATH.stream, server.token("calm-viewer", "viewer"));
  const sub = { kind: "subscribe_stream", id: "calm", subscription_id: "calm", streams: ["telescope_snapshot"], filter: { telescope_uid: CALM } };
  expect(await calm.viewer.request(sub)).toMatchObject({ kind: "ack" });
  calm.wssPublisher = await v1("/wss", server.token("calm-op", "operator"));
  calm.wssSubscriber = await v1("/wss", server.token("calm-reader", "viewer"));
  for (const topic of ["calm/chat", `telescope_snapshot/${CALM}`]) {
    expect(await calm.wssSubscriber.request({ action: "subscribe", topic, id: topic })).toMatchObject({ kind: "ack" });
  }
  calm.v3Member = await member("calm", "calm-member", "calm-member");
  calm.v3Sender = await member("calm", "calm-sender", "calm-sender");
  await checkpoint();
});

afterAll(async () => {
  for (const c of all) c.close();
  if (!server) return;
  // SIGTERM is a clean shutdown (exit 0): the process never crashed under the fuzzing.
  expect(await server.stop()).toBe(0);
});

/** Frames deeper than the limit, whole: valid JSON, and openers that never close. */
const deepFrames = [
  ...[MAX_JSON_DEPTH + 1, 1000, 100_000].flatMap((n) => (["array", "object", "mixed"] as const).map((s) => nested(n, s))),
  unclosed(100_000, "["),
  unclosed(100_000, "{"),
  unclosed(100_000, '{"a":'),
  "[".repeat(200_000),
];

/** Where each endpoint takes free-form JSON in a valid frame (the snapshot, data, payload and details fields). */
const FREE_FORM: Record<EndpointName, { msg: JsonObj; path: string }[]> = {
  stream: [
    { msg: { kind: "publish_telescope_snapshot", id: "deep-s", telescope_uid: FUZZ_SCOPE, snapshot: { state: 0 } }, path: "snapshot.state" },
    { msg: { kind: "publish_device_snapshot", id: "deep-d", telescope_uid: FUZZ_SCOPE, device_uid: "m", snapshot: { device_type: "mount", position: 0 } }, path: "snapshot.position" },
    { msg: { kind: "publish_telescope_log", id: "deep-l", telescope_uid: FUZZ_SCOPE, entry: { ts: 0, level: "info", msg: "m", extra: 0 } }, path: "entry.extra" },
  ],
  commands: [
    { msg: { kind: "publish_command_result", id: "deep-r", telescope_uid: "sim-1", result: { command_id: "c", status: "ok", data: { x: 0 } } }, path: "result.data.x" },
    {
      msg: { kind: "publish_command_result", id: "deep-e", telescope_uid: "sim-1", result: { command_id: "c", status: "error", error: { code: "internal", message: "m", details: { x: 0 } } } },
      path: "result.error.details.x",
    },
    { msg: { kind: "direct_request", id: "deep-q", request_id: "q", telescope_uid: "sim-1", request_type: "fuzz.unknown", payload: { x: 0 } }, path: "payload.x" },
  ],
  wss: [{ msg: { action: "publish", topic: "fuzz/echo", id: "deep-w", data: { name: "n", type: "t", data: 0 } }, path: "data.data" }],
  v3: [
    { msg: { msg_type: "msg", target: "echo", msg: "deep-v", payload: { x: 0 } }, path: "payload.x" },
    { msg: { msg_type: "msg", target: "group", payload: { x: 0 } }, path: "payload.x" },
  ],
};

describe("fuzzing every WebSocket endpoint", () => {
  for (const endpoint of ENDPOINTS) {
    test(`${PATH[endpoint]}: bad JSON, non-messages, wrong kinds and mutated frames are each answered invalid in its own shape`, async () => {
      const f = fuzz[endpoint];
      const d: Dialect = f.dialect;
      // Control: the unmutated samples are valid (whatever their fate: ack, forbidden, not_found, no answer), so it
      // is the mutation that makes each mutant invalid. On a separate connection: a subscribe has side effects.
      const control = await fuzzer(endpoint, `control-${endpoint}`, `control-${endpoint}`);
      for (const s of SAMPLES[endpoint]) {
        const answers = await control.exchange(JSON.stringify(s.msg));
        expect({ sample: s.msg, invalid: answers.filter((a) => a.code === "invalid" || a.payload?.code === "invalid") }).toEqual({ sample: s.msg, invalid: [] });
      }
      control.client.close();

      await fc.assert(fc.asyncProperty(nonJsonText(SAMPLES[endpoint]), async (text) => void (await f.refused(text))), runs(RUNS.random));
      await fc.assert(fc.asyncProperty(jsonNotMessage(d), async (v) => void (await f.refused(JSON.stringify(v)))), runs(RUNS.random));
      await fc.assert(fc.asyncProperty(unknownKind(d, foreignSamples(endpoint)), async (m) => void (await f.refused(JSON.stringify(m)))), runs(RUNS.random));
      await checkpoint();
      // Every mutation target once, then more drawn uniformly over the targets.
      const targets = mutationTargets(SAMPLES[endpoint], d);
      for (const target of targets) for (const { mutation, text } of fc.sample(target, 1)) await f.refused(text, mutation);
      await fc.assert(fc.asyncProperty(fc.oneof(...targets), async ({ mutation, text }) => void (await f.refused(text, mutation))), runs(RUNS.mutants));
      await checkpoint();
    }, 120_000);

    test(`${PATH[endpoint]}: frames nested past the depth limit (100,000 deep too), whole or in free-form fields, are answered invalid`, async () => {
      const f = fuzz[endpoint];
      for (const frame of deepFrames) await f.refused(frame, `${frame.length} chars of nesting`);
      for (const { msg, path } of FREE_FORM[endpoint]) {
        for (const n of [MAX_JSON_DEPTH - depthAt(path) + 1, 10_000, 100_000]) {
          for (const style of ["array", "object", "mixed"] as const) await f.refused(withRaw(msg, path, nested(n, style)), `${path} ${n} deep`);
        }
      }
      await checkpoint();
    }, 60_000);

    test(`${PATH[endpoint]}: huge arrays, long strings, odd unicode, edge numbers and malformed text are answered invalid`, async () => {
      const f = fuzz[endpoint];
      const frames = [
        "",
        "   ",
        "\uFEFF{}",
        "null",
        "0",
        "-0",
        "1e400",
        '"\\ud800"',
        ...ODD_STRINGS.map((s) => JSON.stringify(s)),
        ...EDGE_NUMBERS,
        // A raw control character inside a JSON string is not JSON.
        `{"kind":"ping","action":"subscribe","msg_type":"msg","id":"a\u0000b"}`,
        `{"kind":"ping","id":"\ud800`,
        hugeArray(150_000),
        hugeArray(50_000, '{"kind":"ping"}'),
        hugeArray(Math.floor(800_000 / (JSON.stringify(SAMPLES[endpoint][0]!.msg).length + 1)), JSON.stringify(SAMPLES[endpoint][0]!.msg)),
        JSON.stringify({ kind: 1e308, action: -0, msg_type: 5e-324 }),
        `{"kind":123456789012345678901234567890,"action":1e400,"msg_type":-1e400,"target":-0}`,
        // Every discriminator an odd string, and one a string of 900,000 characters.
        JSON.stringify(Object.fromEntries(["kind", "action", "msg_type", "target"].map((k, i) => [k, ODD_STRINGS[i]]))),
        JSON.stringify({ kind: "p".repeat(900_000), action: "p", msg_type: "p" }),
        // Keys: thousands of odd ones.
        JSON.stringify(Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`${ODD_STRINGS[i % ODD_STRINGS.length]}${i}`, i]))),
      ];
      for (const frame of frames) {
        const before = f.client.received.length;
        await f.refused(frame);
        // An answer quotes the frame only in bounded pieces.
        expect(JSON.stringify(f.client.received.slice(before)).length).toBeLessThan(16 * 1024);
      }
      await checkpoint();
    }, 60_000);

    test(`${PATH[endpoint]}: binary frames and frames over the size limit are answered invalid; over 4× the limit only that socket may close (1009)`, async () => {
      const f = fuzz[endpoint];
      const validBytes = SAMPLES[endpoint].map((s) => new TextEncoder().encode(JSON.stringify(s.msg)));
      const binary = fc.oneof(fc.uint8Array({ maxLength: 4096 }), fc.constantFrom(...validBytes), fc.constant(new Uint8Array(0)));
      await fc.assert(
        fc.asyncProperty(binary, async (bytes) => {
          const answer = await f.refused(bytes);
          expect(JSON.stringify(answer)).toContain("binary");
        }),
        runs(RUNS.binary),
      );
      // Over the 1 MiB limit but under Bun's 4 MiB hard cap: refused by size, whatever the content, socket kept.
      const sample = SAMPLES[endpoint][0]!.msg;
      const oversized = [
        JSON.stringify({ ...sample, pad: "x".repeat(1.5 * MiB) }),
        "{".repeat(1.5 * MiB),
        "x".repeat(MiB + 1),
        JSON.stringify({ ...sample, pad: "y".repeat(3.9 * MiB) }),
        // Over the limit in UTF-8 bytes but not in UTF-16 units (3 bytes each).
        JSON.stringify({ ...sample, pad: "€".repeat(MiB / 2) }),
        JSON.stringify({ ...sample, pad: "\u{1f600}".repeat(MiB / 3) }),
      ];
      for (const frame of oversized) {
        const answer = await f.refused(frame);
        expect(JSON.stringify(answer)).toContain("exceeds");
      }
      await checkpoint();

      // Over 4×: Bun may close the socket (1009), or the pipeline refuses it; either way that socket alone.
      const throwaway = await fuzzer(endpoint, `huge-${endpoint}`, `huge-${endpoint}`);
      throwaway.client.send("z".repeat(4 * MiB + 1024));
      const outcome = await Promise.race([
        throwaway.client.waitClosed().then((c) => ({ closed: c.code })),
        throwaway.client.next(isErrorFrame, 15_000).then(
          (e) => ({ answered: e }),
          (e: Error) => ({ neither: e.message }),
        ),
      ]);
      if ("neither" in outcome) throw new Error(`a frame over 4× the limit was neither answered nor closed: ${outcome.neither}`);
      if ("closed" in outcome) expect(outcome.closed).toBe(1009);
      else expect(throwaway.dialect.wrongError(outcome.answered, "z".repeat(4 * MiB + 1024), "invalid")).toBeNull();
      throwaway.client.close();
      await checkpoint();
    }, 60_000);
  }

  test("hostile but valid free-form JSON (odd unicode, edge numbers, huge arrays and strings, as deep as allowed) comes back as sent", async () => {
    // Each sink answers a frame with the delivery (the same socket is subscribed, or it is an echo) and an ack.
    const sinks: { f: Fuzzed; path: string; frame: (raw: string, n: number) => string; delivered: (a: Frame, n: number) => unknown }[] = [
      {
        f: skyFuzz,
        path: "snapshot.state",
        frame: (raw, n) => withRaw({ kind: "publish_telescope_snapshot", id: `h-${n}`, telescope_uid: FUZZ_SCOPE, snapshot: { state: 0 } }, "snapshot.state", raw),
        delivered: (a) => (a.kind === "event_telescope_snapshot" && a.subscription_id === "self" ? a.snapshot?.state : undefined),
      },
      {
        f: fuzz.wss,
        path: "data.data",
        frame: (raw, n) => withRaw({ action: "publish", topic: "fuzz/echo", id: `h-${n}`, data: { name: "n", type: "t", data: 0 } }, "data.data", raw),
        delivered: (a) => (a.kind === "message" && a.topic === "fuzz/echo" ? a.data?.data : undefined),
      },
      {
        f: fuzz.v3,
        path: "payload.x",
        frame: (raw, n) => withRaw({ msg_type: "msg", target: "echo", msg: `h-${n}`, payload: { x: 0 } }, "payload.x", raw),
        delivered: (a, n) => (a.msg_type === "msg" && a.msg === `h-${n}` && a.cmd === undefined ? a.payload?.x : undefined),
      },
    ];
    let n = 0;
    for (const sink of sinks) {
      await fc.assert(
        fc.asyncProperty(hostileJson(MAX_JSON_DEPTH - depthAt(sink.path)), async (raw) => {
          const frame = sink.frame(raw, ++n);
          const answers = await sink.f.exchange(frame);
          const deliveries = answers.filter((a) => sink.delivered(a, n) !== undefined);
          const others = answers.filter((a) => sink.delivered(a, n) === undefined && !(a.kind === "ack" && a.id === `h-${n}`));
          expect({ others, deliveries: deliveries.length }).toEqual({ others: [], deliveries: 1 });
          const got = JSON.stringify(sink.delivered(deliveries[0]!, n));
          if (got !== reserialized(raw)) throw new Error(`${sink.f.dialect.name} delivered ${got.slice(0, 300)} for ${raw.slice(0, 300)} (expected ${reserialized(raw).slice(0, 300)})`);
        }),
        runs(RUNS.hostile),
      );
    }
    // /v1/ws/commands takes free-form JSON in results and direct requests: an operator's are refused for what they
    // are (not the SkyNode; no such telescope), never as invalid or internal.
    const commands = fuzz.commands;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FREE_FORM.commands).chain((at) => hostileJson(MAX_JSON_DEPTH - depthAt(at.path)).map((raw) => ({ ...at, raw }))),
        async ({ msg, path, raw }) => {
          const answers = await commands.exchange(withRaw(msg, path, raw));
          expect({ path, codes: answers.map((a) => a.code) }).toEqual({ path, codes: [expect.stringMatching(/^(forbidden|not_found)$/)] });
        },
      ),
      runs(RUNS.hostile),
    );
    await checkpoint();
  }, 120_000);

  test("a frame exactly at the depth limit is served; one level deeper is answered invalid", async () => {
    for (const [f, msg, path, delivered] of [
      [skyFuzz, { kind: "publish_telescope_snapshot", id: "edge", telescope_uid: FUZZ_SCOPE, snapshot: { state: 0 } }, "snapshot.state", (a: Frame) => a.snapshot?.state],
      [fuzz.wss, { action: "publish", topic: "fuzz/echo", id: "edge", data: { name: "n", type: "t", data: 0 } }, "data.data", (a: Frame) => (a.kind === "message" ? a.data.data : undefined)],
      [fuzz.v3, { msg_type: "msg", target: "echo", msg: "edge", payload: { x: 0 } }, "payload.x", (a: Frame) => (a.msg === "edge" ? a.payload?.x : undefined)],
    ] as const) {
      for (const style of ["array", "object", "mixed"] as const) {
        const atLimit = nested(MAX_JSON_DEPTH - depthAt(path), style);
        const answers = await f.exchange(withRaw(msg as JsonObj, path, atLimit));
        expect(answers.filter(isErrorFrame)).toEqual([]);
        expect(answers.map((a) => delivered(a)).filter((v) => v !== undefined).map((v) => JSON.stringify(v))).toEqual([reserialized(atLimit)]);
        await f.refused(withRaw(msg as JsonObj, path, nested(MAX_JSON_DEPTH - depthAt(path) + 1, style)), `${path} one past the limit`);
      }
    }
    await checkpoint();
  });

  // The regression: one frame of 100,000 nested `[` on /v3 (valid JSON, inside the payload a group message carries)
  // crashed the whole process (RangeError from JSON.stringify outside any guard).
  test("regression: 100,000-deep JSON on every endpoint, whole and inside snapshot/data/payload/details, is answered invalid and the process stays up", async () => {
    const deep = nested(100_000, "array");
    // Every endpoint and frame is tried and the outcomes compared at once: the report names each that fails.
    const failures: string[] = [];
    for (const endpoint of ENDPOINTS) {
      const f = fuzz[endpoint];
      const frames: [string, string][] = [
        ["100,000 nested [ ]", deep],
        ["100,000 unclosed [", unclosed(100_000, "[")],
        ...FREE_FORM[endpoint].map(({ msg, path }): [string, string] => [`100,000 deep at ${path}`, withRaw(msg, path, deep)]),
      ];
      for (const [label, frame] of frames) {
        if (server.proc.exitCode !== null) break;
        await f.refused(frame, label).catch((e: Error) => failures.push(`${PATH[endpoint]} ${label}: ${e.message.slice(0, 300)}`));
      }
      const alive = server.proc.exitCode === null && (await fetch(`${server.http}/healthz`).then((r) => r.status, () => 0)) === 200;
      if (!alive) failures.push(`${PATH[endpoint]}: the server died (exit code ${server.proc.exitCode})`);
    }
    expect(failures).toEqual([]);
    await checkpoint();
  });

  // JSON.parse makes "__proto__" an own key like any other. A schema that rebuilds an object key by key must either
  // keep it or refuse the frame; zod's records skip it (so that it cannot become the rebuilt object's prototype), and
  // the key vanishes from what is delivered without a word to the sender.
  test('a key named "__proto__" in free-form JSON is delivered as sent or refused invalid, never dropped silently', async () => {
    const value = '{"__proto__":{"polluted":true},"constructor":{"prototype":1},"kept":1}';
    const cases: [string, Fuzzed, string, (a: Frame) => unknown][] = [
      ["/v1/ws/stream snapshot", skyFuzz, `{"kind":"publish_telescope_snapshot","id":"proto","telescope_uid":"${FUZZ_SCOPE}","snapshot":${value}}`, (a) => (a.kind === "event_telescope_snapshot" ? a.snapshot : undefined)],
      ["/wss data", fuzz.wss, `{"action":"publish","topic":"fuzz/echo","id":"proto","data":{"name":"n","type":"t","data":${value}}}`, (a) => (a.kind === "message" ? a.data.data : undefined)],
      ["/v3 payload", fuzz.v3, `{"msg_type":"msg","target":"echo","msg":"proto","payload":${value}}`, (a) => (a.msg === "proto" ? a.payload : undefined)],
    ];
    const outcomes: Record<string, string> = {};
    for (const [where, f, frame, delivered] of cases) {
      const answers = await f.exchange(frame);
      const d = answers.map(delivered).find((v) => v !== undefined);
      const refused = answers.length === 1 && f.dialect.wrongError(answers[0]!, frame, "invalid") === null;
      outcomes[where] = refused ? "refused invalid" : d !== undefined && JSON.stringify(d) === reserialized(value) ? "delivered as sent" : `answered ${JSON.stringify(answers).slice(0, 300)}`;
    }
    const fine = expect.stringMatching(/^(delivered as sent|refused invalid)$/);
    expect(outcomes).toEqual(Object.fromEntries(cases.map(([where]) => [where, fine])));
    await checkpoint();
  });

  test("the well-behaved clients saw every event in order, the fuzzed sockets still work, and the server logged no failure", async () => {
    await checkpoint();
    for (const f of [...Object.values(fuzz), skyFuzz]) {
      const answers = await f.exchange(JSON.stringify(f.dialect.probe("still-there")));
      expect(answers.filter(isErrorFrame)).toEqual([]);
    }
    // An exception inside a handler is logged at error level (and answered `internal`): there was none.
    const failures = server
      .logs()
      .split("\n")
      .filter((line) => /"level":(50|60)\b/.test(line));
    expect(failures).toEqual([]);
  });
});
