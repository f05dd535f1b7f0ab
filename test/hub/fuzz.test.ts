/**
 * Property-based robustness test of the two /v1 WebSocket endpoints' schemas: thousands of random and mutated frames
 * (bad JSON, wrong types, out-of-range numbers, huge strings, unknown kinds, every field of every inbound kind
 * deleted, retyped, duplicated, broken, or nested past the depth limit) are thrown at one real server. Every such
 * frame must be answered with exactly one `{kind:"error", code:"invalid"}` that echoes the request's id, the fuzzed
 * connections must stay open, the server must never crash (SIGTERM at the end exits 0), and a well-behaved
 * publisher/subscriber pair on the same server must see every one of its events, in order, throughout.
 * What every endpoint shares (binary, oversized and deep frames, odd unicode, edge numbers, /wss and /v3) is
 * test/reliability/fuzz.test.ts; the frames and the probing are test/helpers/fuzz-frames.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  Fuzzed,
  jsonNotMessage,
  KiB,
  MiB,
  mutationTargets,
  nonJsonText,
  runs,
  SAMPLES,
  TELESCOPE,
  unknownKind,
  v1Dialect,
  type JsonObj,
} from "../helpers/fuzz-frames";
import { removeDir, startServer, type TestServer } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";

type Endpoint = "stream" | "commands";
/** Fuzz frames between two snapshots of the well-behaved publisher. */
const HEARTBEAT_EVERY = 25;

let server: TestServer;
const fuzz = {} as Record<Endpoint, Fuzzed>;
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
const heartbeat = () => {
  if (++fuzzed % HEARTBEAT_EVERY === 0) publishSnapshot();
};

const url = (path: string, token: string) => `${server.ws}${path}?token=${encodeURIComponent(token)}`;
const PATH: Record<Endpoint, string> = { stream: "/v1/ws/stream", commands: "/v1/ws/commands" };

beforeAll(async () => {
  // Not rate-limited: the fuzzer sends far more than the default 500 frames/s on one connection.
  server = await startServer({ args: ["--role", "hub"], config: "[server]\nmax_frames_per_s = 1000000\nmax_json_depth = 64\n" });
  const operator = server.token("fuzzer", "operator");
  for (const endpoint of ["stream", "commands"] as const) {
    fuzz[endpoint] = new Fuzzed(await TestClient.connect(url(PATH[endpoint], operator)), v1Dialect(endpoint), heartbeat);
  }
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
  for (const c of [fuzz.stream?.client, fuzz.commands?.client, viewer, publisher]) c?.close();
  if (!server) return;
  const code = await server.stop();
  removeDir(server.dataDir);
  // SIGTERM is a clean shutdown (exit 0): the process never crashed under the fuzzing.
  expect(code).toBe(0);
});

describe("fuzzing both /v1 WebSocket endpoints", () => {
  for (const endpoint of ["stream", "commands"] as const) {
    test(`/v1/ws/${endpoint}: every malformed text frame is answered invalid`, async () => {
      const f = fuzz[endpoint];
      const other = endpoint === "stream" ? SAMPLES.commands : SAMPLES.stream;

      // Control: the unmutated samples are valid (whatever their fate: ack, forbidden, not_found, no answer), so it
      // is the mutation that makes each mutant invalid. On a separate connection: a subscribe has side effects.
      const control = new Fuzzed(await TestClient.connect(url(PATH[endpoint], server.token("control", "operator"))), v1Dialect(endpoint));
      for (const s of SAMPLES[endpoint]) {
        const answers = await control.exchange(JSON.stringify(s.msg));
        expect({ sample: s.msg.kind, invalid: answers.filter((a) => a.code === "invalid") }).toEqual({ sample: s.msg.kind, invalid: [] });
      }
      control.client.close();

      await fc.assert(fc.asyncProperty(nonJsonText(SAMPLES[endpoint]), async (text) => void (await f.refused(text))), runs(400));
      await fc.assert(
        fc.asyncProperty(jsonNotMessage(f.dialect), async (v) => void (await f.refused(JSON.stringify(v)))),
        runs(400),
      );
      await fc.assert(
        fc.asyncProperty(unknownKind(f.dialect, other), async (msg) => void (await f.refused(JSON.stringify(msg)))),
        runs(400),
      );
      // Mutants: every target at least twice, then 1000 more drawn uniformly over the targets.
      const targets = mutationTargets(SAMPLES[endpoint], f.dialect);
      for (const target of targets) {
        for (const { mutation, text } of fc.sample(target, 2)) await f.refused(text, mutation);
      }
      await fc.assert(
        fc.asyncProperty(fc.oneof(...targets), async ({ mutation, text }) => void (await f.refused(text, mutation))),
        runs(1000),
      );
      expect(f.client.closed).toBeNull();
    }, 90_000);
  }

  test("100 KiB strings in otherwise well-formed messages are answered invalid on both endpoints", async () => {
    for (const endpoint of ["stream", "commands"] as const) {
      const f = fuzz[endpoint];
      // Ids and uids are capped at 200 chars, a log msg at 64 KiB.
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
      for (const msg of hugeFields) await f.refused(JSON.stringify(msg));
      // Just under the limit a frame is parsed and judged by its content.
      const underLimit = await f.refused(JSON.stringify({ kind: "ping", id: 42, pad: "x".repeat(MiB - 100) }));
      expect(underLimit.message).not.toMatch(/exceeds/);
      expect(f.client.closed).toBeNull();
    }
  }, 60_000);

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
    for (const [f, frame] of [[fuzz.commands, hugeKey], [fuzz.stream, manyKeys]] as const) {
      const before = f.client.received.length;
      const answer = await f.refused(frame);
      expect(answer.id).toMatch(/^echo-/);
      expect(JSON.stringify(f.client.received.slice(before)).length).toBeLessThan(16 * 1024);
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
    for (const f of [fuzz.stream, fuzz.commands]) {
      expect(f.client.closed).toBeNull();
      expect(await f.client.request({ kind: "ping", id: "still-there" })).toMatchObject({ kind: "pong", id: "still-there" });
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
