import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, type TestServer } from "../helpers/server";
import { TestSkyNode } from "../helpers/test-skynode";
import { TestClient } from "../helpers/ws-client";

let server: TestServer;
let node: TestSkyNode;
let viewerToken: string;

beforeAll(async () => {
  server = await startServer({ args: ["--role", "hub"] });
  node = await TestSkyNode.connect(server, "sim-1");
  viewerToken = server.token("vera", "viewer");
});
afterAll(async () => {
  node.close();
  expect(await server.stop()).toBe(0);
});

const viewer = (token = viewerToken) => TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`);

describe("/v1/ws/stream", () => {
  test("ping is answered with pong echoing the id", async () => {
    const c = await viewer();
    expect(await c.request({ kind: "ping", id: "p-1" })).toEqual({ kind: "pong", id: "p-1" });
    c.close();
  });

  test("a SkyNode publish reaches matching subscribers as event_* with their subscription_id", async () => {
    const a = await viewer();
    const b = await viewer();
    expect(await a.request({ kind: "subscribe_stream", id: "q1", subscription_id: "tel", streams: ["telescope_snapshot"], filter: { telescope_uid: "sim-1" } })).toEqual({ kind: "ack", id: "q1" });
    // Without an id, the ack carries the subscription id.
    b.send({ kind: "subscribe_stream", subscription_id: "other", streams: ["telescope_snapshot"], filter: { telescope_uid: "t-2" } });
    expect(await b.kind("ack")).toEqual({ kind: "ack", id: "other" });
    node.publish("publish_telescope_snapshot", { snapshot: { tracking: true, n: 1 } });
    expect(await a.kind("event_telescope_snapshot")).toEqual({
      kind: "event_telescope_snapshot",
      subscription_id: "tel",
      telescope_uid: "sim-1",
      snapshot: { tracking: true, n: 1 },
    });
    // b's filter names another telescope: a ping answered after the publish proves nothing came before it.
    await b.request({ kind: "ping", id: "after" });
    expect(b.received.filter((f) => f.kind === "event_telescope_snapshot")).toEqual([]);
    a.close();
    b.close();
  });

  test("a new subscription first receives the retained latest snapshot of everything it matches", async () => {
    node.publish("publish_device_snapshot", { device_uid: "mount", snapshot: { device_type: "mount", ra_deg: 1 } });
    node.publish("publish_device_snapshot", { device_uid: "mount", snapshot: { device_type: "mount", ra_deg: 2 } });
    node.publish("publish_device_snapshot", { device_uid: "focuser", snapshot: { device_type: "focuser", position_um: 5 } });
    node.publish("publish_constraint_status_snapshot", { snapshot: { safe: false, reason: "wind" } });
    await node.stream.request({ kind: "ping", id: "sync-1" });
    const c = await viewer();
    c.send({ kind: "subscribe_stream", subscription_id: "dev", streams: ["device_snapshot"], filter: { device_uid: ["mount", "focuser"] } });
    const first = await c.kind("event_device_snapshot");
    const second = await c.kind("event_device_snapshot");
    const byDevice = Object.fromEntries([first, second].map((f) => [f.device_uid, f.snapshot]));
    expect(byDevice).toEqual({ mount: { device_type: "mount", ra_deg: 2 }, focuser: { device_type: "focuser", position_um: 5 } });
    expect(c.received.findIndex((f) => f.kind === "ack")).toBe(0);

    const d = await viewer();
    d.send({ kind: "subscribe_stream", subscription_id: "cs", streams: ["constraint_status_snapshot"], options: { include_existing: false } });
    await d.kind("ack");
    await d.request({ kind: "ping", id: "x" });
    expect(d.received.some((f) => f.kind.startsWith("event_"))).toBe(false);
    node.publish("publish_constraint_status_snapshot", { snapshot: { safe: true } });
    expect((await d.kind("event_constraint_status_snapshot")).snapshot).toEqual({ safe: true });
    c.close();
    d.close();
  });

  test("filters by device_type, several subscriptions per connection, and unsubscribe", async () => {
    const c = await viewer();
    c.send({ kind: "subscribe_stream", subscription_id: "cams", streams: ["device_snapshot"], filter: { device_type: "camera" }, options: { include_existing: false } });
    c.send({ kind: "subscribe_stream", subscription_id: "all", filter: { telescope_uid: "sim-1" }, options: { include_existing: false } });
    await c.next((f) => f.kind === "ack" && f.id === "cams");
    await c.next((f) => f.kind === "ack" && f.id === "all");
    node.publish("publish_device_snapshot", { device_uid: "cam0", snapshot: { device_type: "camera", state: "exposing" } });
    const got = [await c.kind("event_device_snapshot"), await c.kind("event_device_snapshot")];
    expect(got.map((f) => f.subscription_id).sort()).toEqual(["all", "cams"]);
    expect(await c.request({ kind: "unsubscribe_stream", id: "u1", subscription_id: "cams" })).toEqual({ kind: "ack", id: "u1" });
    node.publish("publish_device_snapshot", { device_uid: "cam0", snapshot: { device_type: "camera", state: "idle" } });
    const next = await c.kind("event_device_snapshot");
    expect(next.subscription_id).toBe("all");
    await c.request({ kind: "ping", id: "sync" });
    expect(c.received.filter((f) => f.kind === "event_device_snapshot" && f.subscription_id === "cams")).toHaveLength(1);
    const err = await c.request({ kind: "unsubscribe_stream", id: "u2", subscription_id: "cams" });
    expect(err).toMatchObject({ kind: "error", id: "u2", code: "not_found" });
    c.close();
  });

  test("device snapshots naming an instrument produce event_instrument_snapshot", async () => {
    const c = await viewer();
    c.send({ kind: "subscribe_stream", subscription_id: "inst", streams: ["instrument_snapshot"], options: { include_existing: false } });
    await c.kind("ack");
    node.publish("publish_device_snapshot", { device_uid: "cam1", snapshot: { device_type: "camera", instrument_uid: "imager", state: "idle" } });
    node.publish("publish_device_snapshot", { device_uid: "fw1", snapshot: { device_type: "filter_wheel", instrument_uid: "imager", slot: "R" } });
    await c.kind("event_instrument_snapshot");
    const second = await c.kind("event_instrument_snapshot");
    expect(second).toMatchObject({ subscription_id: "inst", telescope_uid: "sim-1", instrument_uid: "imager" });
    expect(Object.keys(second.snapshot.devices).sort()).toEqual(["cam1", "fw1"]);
    c.close();
  });

  test("telescope logs, constraint, and interlock snapshots are delivered", async () => {
    const c = await viewer();
    c.send({ kind: "subscribe_stream", subscription_id: "x", streams: ["telescope_log", "constraint_snapshot", "shutdown_interlock_snapshot"], options: { include_existing: false } });
    await c.kind("ack");
    node.publish("publish_telescope_log", { entry: { ts: new Date().toISOString(), level: "warn", msg: "dew heater on" } });
    node.publish("publish_constraint_snapshot", { snapshot: { min_alt_deg: 15 } });
    node.publish("publish_shutdown_interlock_snapshot", { snapshot: { estop: true } });
    expect((await c.kind("event_telescope_log")).entry).toMatchObject({ level: "warn", msg: "dew heater on" });
    expect((await c.kind("event_constraint_snapshot")).snapshot).toEqual({ min_alt_deg: 15 });
    expect((await c.kind("event_shutdown_interlock_snapshot")).snapshot).toEqual({ estop: true });
    c.close();
  });

  test("an observatory_uid filter matches the telescopes whose snapshot names that observatory", async () => {
    const other = await TestSkyNode.connect(server, "t-obs");
    other.publish("publish_telescope_snapshot", { snapshot: { observatory_uid: "obs-ctio" } });
    await other.stream.request({ kind: "ping", id: "s" });
    const c = await viewer();
    c.send({ kind: "subscribe_stream", subscription_id: "obs", streams: ["device_snapshot", "telescope_snapshot"], filter: { observatory_uid: "obs-ctio" } });
    expect((await c.kind("event_telescope_snapshot")).telescope_uid).toBe("t-obs");
    node.publish("publish_device_snapshot", { device_uid: "mount", snapshot: { device_type: "mount", n: 1 } });
    other.publish("publish_device_snapshot", { device_uid: "mount", snapshot: { device_type: "mount", n: 2 } });
    expect(await c.kind("event_device_snapshot")).toMatchObject({ telescope_uid: "t-obs", snapshot: { n: 2 } });
    await node.stream.request({ kind: "ping", id: "s2" });
    await c.request({ kind: "ping", id: "after" });
    expect(c.received.filter((f) => f.kind === "event_device_snapshot").map((f) => f.telescope_uid)).toEqual(["t-obs"]);
    other.close();
    c.close();
  });

  test("pong and ack from a client are accepted without an answer", async () => {
    const c = await viewer();
    c.send({ kind: "pong", id: "p" });
    c.send({ kind: "ack", id: "a" });
    expect(await c.request({ kind: "ping", id: "then" })).toEqual({ kind: "pong", id: "then" });
    expect(c.received).toEqual([{ kind: "pong", id: "then" }]);
    c.close();
  });

  test("only a SkyNode may publish, and only for its own telescope", async () => {
    const c = await viewer();
    const e1 = await c.request({ kind: "publish_telescope_snapshot", id: "v1", telescope_uid: "sim-1", snapshot: {} });
    expect(e1).toMatchObject({ kind: "error", id: "v1", code: "forbidden" });
    const e2 = await node.stream.request({ kind: "publish_telescope_snapshot", id: "n1", telescope_uid: "t-other", snapshot: {} });
    expect(e2).toMatchObject({ kind: "error", id: "n1", code: "forbidden" });
    expect(await node.stream.request({ kind: "publish_telescope_log", id: "n2", telescope_uid: "sim-1", entry: { ts: 1, level: "info", msg: "ok" } })).toEqual({ kind: "ack", id: "n2" });
    c.close();
  });

  test("a token restricted to some telescopes cannot subscribe outside them, and its unfiltered subscription stays inside", async () => {
    const c = await viewer(server.token("tina", "viewer", ["t-2"]));
    const err = await c.request({ kind: "subscribe_stream", id: "s", subscription_id: "s", filter: { telescope_uid: "sim-1" } });
    expect(err).toMatchObject({ kind: "error", id: "s", code: "forbidden" });
    c.send({ kind: "subscribe_stream", subscription_id: "mine", options: { include_existing: false } });
    await c.kind("ack");
    node.publish("publish_telescope_snapshot", { snapshot: { n: 99 } });
    await node.stream.request({ kind: "ping", id: "s2" });
    await c.request({ kind: "ping", id: "after" });
    expect(c.received.some((f) => f.kind === "event_telescope_snapshot")).toBe(false);
    c.close();
  });

  test("invalid messages get an invalid error with the request id and the socket stays open", async () => {
    const c = await viewer();
    const e = await c.request({ kind: "subscribe_stream", id: "bad", subscription_id: "s", streams: ["weather"] } as any);
    expect(e).toMatchObject({ kind: "error", id: "bad", code: "invalid" });
    expect(e.details.issues.length).toBeGreaterThan(0);
    c.send("{not json");
    expect(await c.kind("error")).toMatchObject({ code: "invalid", message: "frame is not valid JSON" });
    c.send({ kind: "publish_command", telescope_uid: "sim-1" });
    expect(await c.kind("error")).toMatchObject({ code: "invalid" });
    expect(await c.request({ kind: "ping", id: "still-open" })).toEqual({ kind: "pong", id: "still-open" });
    c.close();
  });
});
