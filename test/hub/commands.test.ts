import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { startServer, type TestServer } from "../helpers/server";
import { leaseAnswer, TestSkyNode } from "../helpers/test-skynode";
import { RawWebSocket } from "../helpers/raw-ws";
import { TestClient, type Frame } from "../helpers/ws-client";

let server: TestServer;
let node: TestSkyNode;
let n = 0;
const uid = () => `cmd-${++n}-${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  server = await startServer({ args: ["--role", "hub"] });
  node = await TestSkyNode.connect(server, "sim-1");
});
beforeEach(() => {
  node.answer = (cmd) => leaseAnswer(cmd, `lease-${uid()}`);
});
afterAll(async () => {
  node.close();
  expect(await server.stop()).toBe(0);
});

const commandsClient = (token: string) => TestClient.connect(`${server.ws}/v1/ws/commands?token=${token}`);
const streamClient = (token: string) => TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`);

async function acquire(client: TestClient, telescope = "sim-1", duration_s = 600): Promise<Frame> {
  const command_id = uid();
  const ack = await client.request({ kind: "publish_command", id: command_id, telescope_uid: telescope, command_id, command: { command_type: "manual_control_lease.acquire", duration_s, purpose: "test" } });
  expect(ack).toMatchObject({ kind: "ack", command_id });
  const result = await client.next((f) => f.kind === "event_command_result" && f.result.command_id === command_id);
  return result.result;
}

async function release(client: TestClient, leaseId: string): Promise<void> {
  const command_id = uid();
  await client.request({ kind: "publish_command", id: command_id, telescope_uid: "sim-1", command_id, command: { command_type: "manual_control_lease.release", lease_id: leaseId } });
  await client.next((f) => f.kind === "event_command_result" && f.result.command_id === command_id);
}

describe("/v1/ws/commands", () => {
  test("seed 002's manual slew-and-expose sequence, every promised message in order", async () => {
    const token = server.token("alice", "operator");
    const cmds = await commandsClient(token);
    const stream = await streamClient(token);
    // 1. Subscribe to command results for the telescope (and the mount snapshots on the stream endpoint).
    cmds.send({ kind: "subscribe_commands", subscription_id: "mine", filter: { telescope_uid: "sim-1" } });
    expect(await cmds.kind("ack")).toEqual({ kind: "ack", id: "mine" });
    stream.send({ kind: "subscribe_stream", subscription_id: "tel", streams: ["device_snapshot", "manual_control_lease"], filter: { telescope_uid: "sim-1" }, options: { include_existing: false } });
    await stream.kind("ack");

    // 2. Acquire the lease.
    const lease = await acquire(cmds);
    expect(lease).toMatchObject({ status: "ok", data: { holder: "alice", purpose: "test" } });
    const leaseEvent = await stream.kind("event_manual_control_lease");
    expect(leaseEvent).toMatchObject({ subscription_id: "tel", telescope_uid: "sim-1", lease: { state: "active", holder: "alice", lease_id: lease.data.lease_id } });

    // 3. mount.track; the SkyNode reports tracking on the stream, then the result.
    node.answer = (cmd) => {
      if (cmd.command.command.command_type === "mount.track") {
        node.publish("publish_device_snapshot", { device_uid: "mount", snapshot: { device_type: "mount", tracking: true } });
        return { status: "ok", data: { ra_deg: 10.68, dec_deg: 41.27 } };
      }
      if (cmd.command.command.command_type === "camera.exposure.start") return { status: "ok", data: { image_id: "img-1", duration_s: 2 } };
      return leaseAnswer(cmd);
    };
    const trackId = uid();
    cmds.send({ kind: "publish_command", telescope_uid: "sim-1", command_id: trackId, command: { command_type: "mount.track", target: { type: "named", name: "M31" } }, origin: { kind: "hub", sub: "mallory", client: "x" } });
    const trackEvent = await cmds.next((f) => f.kind === "event_command" && f.command.command_id === trackId);
    expect(trackEvent.command.origin).toEqual({ kind: "user", sub: "alice", client: expect.any(String), role: "operator" });
    const ack = await cmds.next((f) => f.kind === "ack" && f.command_id === trackId);
    expect(ack.id).toBe(trackId);

    // 4. The mount snapshot confirms tracking.
    expect((await stream.kind("event_device_snapshot")).snapshot).toEqual({ device_type: "mount", tracking: true });
    const trackResult = await cmds.next((f) => f.kind === "event_command_result" && f.result.command_id === trackId);
    expect(trackResult).toMatchObject({ subscription_id: "mine", telescope_uid: "sim-1", result: { status: "ok", data: { ra_deg: 10.68 } } });

    // 5-6. Expose and wait for its result.
    const expId = uid();
    cmds.send({ kind: "publish_command", telescope_uid: "sim-1", command_id: expId, command: { command_type: "camera.exposure.start", duration_s: 2, binning: 1 } });
    const expResult = await cmds.next((f) => f.kind === "event_command_result" && f.result.command_id === expId);
    expect(expResult.result).toEqual({ command_id: expId, status: "ok", data: { image_id: "img-1", duration_s: 2 } });

    // 7. Release.
    await release(cmds, lease.data.lease_id);
    expect((await stream.kind("event_manual_control_lease")).lease).toMatchObject({ state: "released", lease_id: lease.data.lease_id });

    // Sequence numbers rise strictly across everything the subscriber saw.
    const seqs = cmds.received.filter((f) => f.kind === "event_command" || f.kind === "event_command_result").map((f) => f.seq);
    expect(seqs.length).toBe(8);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    // The SkyNode received the commands, with the server-filled origin.
    expect(node.received.find((f) => f.command.command_id === trackId)!.command.origin.sub).toBe("alice");
    cmds.close();
    stream.close();
  });

  test("commands need the lease: forbidden for others, conflict on a held lease, owners may act and revoke", async () => {
    const alice = await commandsClient(server.token("alice", "operator"));
    const bob = await commandsClient(server.token("bob", "operator"));
    const owner = await commandsClient(server.token("olga", "owner"));
    const viewer = await commandsClient(server.token("vera", "viewer"));
    for (const c of [alice, bob, owner]) {
      c.send({ kind: "subscribe_commands", subscription_id: "s", filter: { telescope_uid: "sim-1" } });
      await c.kind("ack");
    }
    const point = (id: string) => ({ kind: "publish_command", id, telescope_uid: "sim-1", command_id: id, command: { command_type: "mount.point", target: { type: "horizontal", alt_deg: 45, az_deg: 90 } } });

    expect(await bob.request(point(uid()))).toMatchObject({ kind: "error", code: "forbidden", message: expect.stringContaining("acquire") });
    expect(await viewer.request(point(uid()))).toMatchObject({ kind: "error", code: "forbidden" });
    const lease = await acquire(alice);
    const bobTry = uid();
    expect(await bob.request(point(bobTry))).toMatchObject({ kind: "error", id: bobTry, code: "forbidden", details: { holder: "alice" } });
    const bobAcquire = uid();
    expect(await bob.request({ kind: "publish_command", id: bobAcquire, telescope_uid: "sim-1", command_id: bobAcquire, command: { command_type: "manual_control_lease.acquire", duration_s: 60 } })).toMatchObject({ code: "conflict" });
    expect(await alice.request(point(uid()))).toMatchObject({ kind: "ack" });
    expect(await owner.request(point(uid()))).toMatchObject({ kind: "ack" });
    const abortBob = uid();
    expect(await bob.request({ kind: "publish_command", id: abortBob, telescope_uid: "sim-1", command_id: abortBob, command: { command_type: "system.abort_manual_control", lease_id: lease.data.lease_id } })).toMatchObject({ code: "forbidden" });
    const abort = uid();
    expect(await owner.request({ kind: "publish_command", id: abort, telescope_uid: "sim-1", command_id: abort, command: { command_type: "system.abort_manual_control", lease_id: lease.data.lease_id } })).toMatchObject({ kind: "ack" });
    await owner.next((f) => f.kind === "event_command_result" && f.result.command_id === abort);
    // The revoked holder is back to needing a lease.
    expect(await alice.request(point(uid()))).toMatchObject({ code: "forbidden" });
    for (const c of [alice, bob, owner, viewer]) c.close();
  });

  test("a lease expires by itself and the expiry is announced", async () => {
    const token = server.token("erin", "operator");
    const cmds = await commandsClient(token);
    const stream = await streamClient(token);
    stream.send({ kind: "subscribe_stream", subscription_id: "l", streams: ["manual_control_lease"], options: { include_existing: false } });
    await stream.kind("ack");
    cmds.send({ kind: "subscribe_commands", subscription_id: "s", filter: { telescope_uid: "sim-1" } });
    await cmds.kind("ack");
    const lease = await acquire(cmds, "sim-1", 1);
    expect((await stream.kind("event_manual_control_lease")).lease.state).toBe("active");
    const expired = await stream.kind("event_manual_control_lease");
    expect(expired.lease).toMatchObject({ state: "expired", lease_id: lease.data.lease_id, holder: "erin" });
    const id = uid();
    expect(await cmds.request({ kind: "publish_command", id, telescope_uid: "sim-1", command_id: id, command: { command_type: "focuser.move_relative", delta_um: 5 } })).toMatchObject({ code: "forbidden" });
    cmds.close();
    stream.close();
  });

  test("not_found: a telescope with no SkyNode, an unknown command to cancel, an unknown result", async () => {
    const owner = await commandsClient(server.token("olga", "owner"));
    const id = uid();
    expect(await owner.request({ kind: "publish_command", id, telescope_uid: "t-offline", command_id: id, command: { command_type: "manual_control_lease.acquire", duration_s: 5 } })).toMatchObject({ code: "not_found", message: expect.stringContaining("no SkyNode") });
    expect(await owner.request({ kind: "cancel_command", id: "c", command_id: "never-sent" })).toMatchObject({ code: "not_found" });
    expect(await node.commands.request({ kind: "publish_command_result", id: "r", telescope_uid: "sim-1", result: { command_id: "never-sent", status: "ok" } })).toMatchObject({ code: "not_found" });
    owner.close();
  });

  test("conflict: a reused command_id; invalid: malformed lease data from the SkyNode", async () => {
    const owner = await commandsClient(server.token("olga", "owner"));
    const id = uid();
    const msg = { kind: "publish_command", id, telescope_uid: "sim-1", command_id: id, command: { command_type: "rotator.move_absolute", angle_deg: 10 } };
    expect(await owner.request(msg)).toMatchObject({ kind: "ack" });
    expect(await owner.request(msg)).toMatchObject({ kind: "error", id, code: "conflict" });

    node.answer = () => null;
    const acq = uid();
    await owner.request({ kind: "publish_command", id: acq, telescope_uid: "sim-1", command_id: acq, command: { command_type: "manual_control_lease.acquire", duration_s: 5 } });
    await node.commands.next((f) => f.kind === "event_command" && f.command.command_id === acq);
    const bad = await node.commands.request({ kind: "publish_command_result", id: "bad-lease", telescope_uid: "sim-1", result: { command_id: acq, status: "ok", data: { lease_id: "x" } } });
    expect(bad).toMatchObject({ code: "invalid", message: expect.stringContaining("lease_id, holder, expires_at") });
    // A SkyNode may only answer for its own telescope.
    expect(await node.commands.request({ kind: "publish_command_result", id: "other", telescope_uid: "t-2", result: { command_id: acq, status: "ok" } })).toMatchObject({ code: "forbidden" });
    node.result(acq, { status: "error", error: { code: "conflict", message: "telescope busy" } });
    owner.close();
  });

  test("cancel_command is relayed to the SkyNode, which reports canceled once stopped; a finished command cannot be canceled", async () => {
    const owner = await commandsClient(server.token("olga", "owner"));
    const operator = await commandsClient(server.token("oscar", "operator"));
    owner.send({ kind: "subscribe_commands", subscription_id: "s", streams: ["command_result"], filter: { telescope_uid: "sim-1" } });
    await owner.kind("ack");
    node.answer = () => null;
    const id = uid();
    await owner.request({ kind: "publish_command", id, telescope_uid: "sim-1", command_id: id, command: { command_type: "camera.exposure.start", duration_s: 300, binning: 1 } });
    expect(await operator.request({ kind: "cancel_command", id: "x", command_id: id })).toMatchObject({ code: "forbidden" });
    expect(await owner.request({ kind: "cancel_command", id: "cx", command_id: id })).toEqual({ kind: "ack", id: "cx", command_id: id });
    const relayed = await node.commands.kind("cancel_command");
    expect(relayed).toEqual({ kind: "cancel_command", command_id: id, telescope_uid: "sim-1" });
    node.result(id, { status: "canceled" });
    expect((await owner.next((f) => f.kind === "event_command_result" && f.result.command_id === id)).result).toEqual({ command_id: id, status: "canceled" });
    expect(await owner.request({ kind: "cancel_command", id: "again", command_id: id })).toMatchObject({ code: "conflict" });
    // A repeated result (a SkyNode replaying its outbox) is acknowledged and not delivered twice.
    expect(await node.commands.request({ kind: "publish_command_result", id: "dup", telescope_uid: "sim-1", result: { command_id: id, status: "canceled" } })).toMatchObject({ kind: "ack", command_id: id });
    await owner.request({ kind: "ping", id: "sync" });
    expect(owner.received.filter((f) => f.kind === "event_command_result" && f.result.command_id === id)).toHaveLength(1);
    owner.close();
    operator.close();
  });

  test("subscribe_commands with since_seq replays what a reconnecting client missed", async () => {
    const token = server.token("olga", "owner");
    const first = await commandsClient(token);
    first.send({ kind: "subscribe_commands", subscription_id: "s", filter: { telescope_uid: "sim-1" } });
    await first.kind("ack");
    const a = uid();
    await first.request({ kind: "publish_command", id: a, telescope_uid: "sim-1", command_id: a, command: { command_type: "focuser.move_absolute", position_um: 100 } });
    const seen = await first.next((f) => f.kind === "event_command_result" && f.result.command_id === a);
    first.close();
    await first.waitClosed();

    const other = await commandsClient(token);
    const b = uid();
    const c = uid();
    for (const id of [b, c]) {
      await other.request({ kind: "publish_command", id, telescope_uid: "sim-1", command_id: id, command: { command_type: "filter_wheel.set_option", filter_wheel_position_id: "R" } });
      // The SkyNode's result is journalled before the next command, so the replay order below is fixed.
      await node.commands.next((f) => f.kind === "ack" && f.command_id === id);
    }

    const again = await commandsClient(token);
    again.send({ kind: "subscribe_commands", subscription_id: "s2", filter: { telescope_uid: "sim-1" }, since_seq: seen.seq });
    await again.kind("ack");
    const replayed = [];
    for (let i = 0; i < 4; i++) replayed.push(await again.next((f) => f.kind.startsWith("event_command")));
    expect(replayed.map((f) => [f.kind, f.command?.command_id ?? f.result.command_id])).toEqual([
      ["event_command", b],
      ["event_command_result", b],
      ["event_command", c],
      ["event_command_result", c],
    ]);
    expect(replayed.every((f) => f.subscription_id === "s2" && f.seq > seen.seq)).toBe(true);
    other.close();
    again.close();
  });

  test("direct requests are routed to the SkyNode and the response relayed; none connected gives not_found", async () => {
    const viewer = await commandsClient(server.token("vera", "viewer"));
    const skynodeHandler = node.commands.socket.onmessage!;
    node.commands.socket.onmessage = (e) => {
      skynodeHandler.call(node.commands.socket, e);
      const f = JSON.parse(e.data as string);
      if (f.kind !== "direct_request") return;
      const send = (m: object) => node.commands.send({ ...m, request_id: f.request_id });
      send({ kind: "direct_response_start", content_type: "text/plain", total_size: 5, metadata: { type: f.request_type } });
      send({ kind: "direct_response_chunk", data_b64: Buffer.from("hel").toString("base64") });
      send({ kind: "direct_response_chunk", data_b64: Buffer.from("lo").toString("base64") });
      send({ kind: "direct_response_end" });
    };
    viewer.send({ kind: "direct_request", request_id: "mine-1", telescope_uid: "sim-1", request_type: "log.export", payload: {} });
    const start = await viewer.kind("direct_response_start");
    expect(start).toEqual({ kind: "direct_response_start", request_id: "mine-1", content_type: "text/plain", total_size: 5, metadata: { type: "log.export" } });
    const chunks = [await viewer.kind("direct_response_chunk"), await viewer.kind("direct_response_chunk")];
    await viewer.kind("direct_response_end");
    expect(Buffer.concat(chunks.map((c) => Buffer.from(c.data_b64, "base64"))).toString()).toBe("hello");
    node.commands.socket.onmessage = skynodeHandler;

    viewer.send({ kind: "direct_request", request_id: "r2", telescope_uid: "t-offline", request_type: "image.fetch" });
    expect(await viewer.kind("direct_error")).toMatchObject({ request_id: "r2", code: "not_found" });
    // Only the SkyNode a request was routed to may answer it.
    expect(await viewer.request({ kind: "direct_response_end", id: "spoof", request_id: "r1" } as any)).toMatchObject({ code: "not_found" });
    viewer.close();
  });
});

describe("more of the commands endpoint", () => {
  test("unsubscribe_commands stops delivery; renew extends the lease", async () => {
    const alice = await commandsClient(server.token("alice", "operator"));
    alice.send({ kind: "subscribe_commands", subscription_id: "s", filter: { telescope_uid: "sim-1" } });
    await alice.kind("ack");
    const lease = await acquire(alice, "sim-1", 60);
    const renewId = uid();
    await alice.request({ kind: "publish_command", id: renewId, telescope_uid: "sim-1", command_id: renewId, command: { command_type: "manual_control_lease.renew", lease_id: lease.data.lease_id, duration_s: 7200 } });
    const renewed = (await alice.next((f) => f.kind === "event_command_result" && f.result.command_id === renewId)).result;
    expect(Date.parse(renewed.data.expires_at)).toBeGreaterThan(Date.parse(lease.data.expires_at));
    expect(await alice.request({ kind: "unsubscribe_commands", id: "u", subscription_id: "s" })).toEqual({ kind: "ack", id: "u" });
    const after = uid();
    expect(await alice.request({ kind: "publish_command", id: after, telescope_uid: "sim-1", command_id: after, command: { command_type: "focus.move_relative", delta_um: 3 } })).toMatchObject({ kind: "ack" });
    await node.commands.next((f) => f.kind === "ack" && f.command_id === after);
    await alice.request({ kind: "ping", id: "sync" });
    expect(alice.received.some((f) => f.kind.startsWith("event_command") && (f.command?.command_id ?? f.result?.command_id) === after)).toBe(false);
    expect(await alice.request({ kind: "unsubscribe_commands", id: "u2", subscription_id: "s" })).toMatchObject({ code: "not_found" });
    const rel = uid();
    await alice.request({ kind: "publish_command", id: rel, telescope_uid: "sim-1", command_id: rel, command: { command_type: "manual_control_lease.release", lease_id: lease.data.lease_id } });
    await node.commands.next((f) => f.kind === "ack" && f.command_id === rel);
    alice.close();
  });

  test("a direct_error from the SkyNode is relayed; a SkyNode lost mid-response fails the request with internal", async () => {
    const s = await startServer({ args: ["--role", "hub"] });
    const sky = await TestSkyNode.connect(s, "t-d");
    const viewer = await TestClient.connect(`${s.ws}/v1/ws/commands?token=${s.token("vera", "viewer")}`);
    viewer.send({ kind: "direct_request", request_id: "a", telescope_uid: "t-d", request_type: "image.fetch", payload: { image_id: "nope" } });
    const fwd = await sky.commands.kind("direct_request");
    expect(fwd).toMatchObject({ telescope_uid: "t-d", request_type: "image.fetch", payload: { image_id: "nope" } });
    sky.commands.send({ kind: "direct_error", request_id: fwd.request_id, code: "not_found", message: "no image nope" });
    expect(await viewer.kind("direct_error")).toEqual({ kind: "direct_error", request_id: "a", code: "not_found", message: "no image nope" });

    viewer.send({ kind: "direct_request", request_id: "b", telescope_uid: "t-d", request_type: "image.fetch" });
    const fwd2 = await sky.commands.kind("direct_request");
    sky.commands.send({ kind: "direct_response_start", request_id: fwd2.request_id, content_type: "image/fits", total_size: 10 });
    await viewer.kind("direct_response_start");
    sky.close();
    expect(await viewer.kind("direct_error")).toMatchObject({ request_id: "b", code: "internal" });
    viewer.close();
    expect(await s.stop()).toBe(0);
  });
});

describe("SkyNode connections", () => {
  test("the newest SkyNode connection wins and receives the commands still open", async () => {
    const s = await startServer({ args: ["--role", "hub"] });
    const old = await TestSkyNode.connect(s, "t-9");
    old.answer = () => null;
    const ownerConn = await TestClient.connect(`${s.ws}/v1/ws/commands?token=${s.token("olga", "owner", ["t-9"])}`);
    const id = "open-1";
    await ownerConn.request({ kind: "publish_command", id, telescope_uid: "t-9", command_id: id, command: { command_type: "mount.point", target: { type: "named", name: "Vega" } } });
    await old.commands.next((f) => f.kind === "event_command");
    const fresh = await TestSkyNode.connect(s, "t-9");
    expect(await old.commands.waitClosed()).toEqual({ code: 4001, reason: "superseded by a newer SkyNode connection for t-9" });
    const redelivered = await fresh.commands.next((f) => f.kind === "event_command");
    expect(redelivered.command.command_id).toBe(id);
    fresh.close();
    ownerConn.close();
    expect(await s.stop()).toBe(0);
  });

  test("relayed chunks are credited back and kept to the declared size; an oversize or unspliceable chunk fails the request and the SkyNode is told to stop", async () => {
    const s = await startServer({ args: ["--role", "hub"] });
    const sky = await TestSkyNode.connect(s, "t-w");
    const viewer = await TestClient.connect(`${s.ws}/v1/ws/commands?token=${s.token("vera", "viewer")}`);
    const chunk = (id: string, text: string) => sky.commands.send(`{"kind":"direct_response_chunk","request_id":"${id}","data_b64":"${Buffer.from(text).toString("base64")}"}`);

    // The forwarded request names the window; each chunk relayed to a reading requester is credited back.
    viewer.send({ kind: "direct_request", request_id: "big", telescope_uid: "t-w", request_type: "image.fetch" });
    const fwd = await sky.commands.kind("direct_request");
    expect(fwd.credit).toBeGreaterThan(0);
    sky.commands.send({ kind: "direct_response_start", request_id: fwd.request_id, content_type: "text/plain", total_size: 4 });
    chunk(fwd.request_id, "abc");
    expect(await sky.commands.kind("direct_credit")).toEqual({ kind: "direct_credit", request_id: fwd.request_id, chunks: 1 });
    chunk(fwd.request_id, "de");
    expect(await viewer.kind("direct_error")).toMatchObject({ request_id: "big", code: "internal", message: expect.stringContaining("more than the 4 bytes") });
    expect(await sky.commands.kind("direct_cancel")).toMatchObject({ request_id: fwd.request_id });

    // A chunk whose payload would break out of its JSON string is not spliced through: it takes the parsed path
    // (where its second "kind" wins, making it an early end), and the requester gets an error, never the frame.
    viewer.send({ kind: "direct_request", request_id: "evil", telescope_uid: "t-w", request_type: "image.fetch" });
    const e = await sky.commands.kind("direct_request");
    sky.commands.send({ kind: "direct_response_start", request_id: e.request_id, content_type: "text/plain", total_size: 3 });
    sky.commands.send(`{"kind":"direct_response_chunk","request_id":"${e.request_id}","data_b64":"QUJD","kind":"direct_response_end"}`);
    expect(await viewer.next((f) => f.request_id === "evil" && f.kind !== "direct_response_start")).toMatchObject({ kind: "direct_error", code: "internal", message: expect.stringContaining("0 of 3 bytes") });
    viewer.close();
    sky.close();
    expect(await s.stop()).toBe(0);
  });

  test("a SkyNode that sends past its credit while the requester is not reading fails the request and is told to stop", async () => {
    const s = await startServer({ args: ["--role", "hub"] });
    const sky = await TestSkyNode.connect(s, "t-c");
    const requester = await RawWebSocket.connect(s.port, `/v1/ws/commands?token=${s.token("vera", "viewer")}`);
    requester.pause();
    requester.sendText(JSON.stringify({ kind: "direct_request", request_id: "hog", telescope_uid: "t-c", request_type: "image.fetch" }));
    const fwd = await sky.commands.kind("direct_request");
    const chunk = Buffer.alloc(700 * 1024, 7).toString("base64");
    const count = 40;
    sky.commands.send({ kind: "direct_response_start", request_id: fwd.request_id, content_type: "application/octet-stream", total_size: count * 700 * 1024 });
    // Ignore every direct_credit: 40 chunks (28 MB) at once, far more than the requester's socket buffers hold.
    for (let i = 0; i < count; i++) sky.commands.send(`{"kind":"direct_response_chunk","request_id":"${fwd.request_id}","data_b64":"${chunk}"}`);
    expect(await sky.commands.kind("direct_cancel", 20_000)).toMatchObject({ request_id: fwd.request_id, reason: expect.stringContaining("ahead of the hub's credit") });
    requester.resume();
    await requester.until((fs) => fs.some((f) => "text" in f && f.text.includes('"kind":"direct_error"')), 20_000);
    const error = requester.frames.map((f) => ("text" in f ? JSON.parse(f.text) : null)).find((m) => m?.kind === "direct_error");
    expect(error).toMatchObject({ request_id: "hog", code: "internal" });
    requester.close();
    sky.close();
    expect(await s.stop()).toBe(0);
  }, 60_000);
});
