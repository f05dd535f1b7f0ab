import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../../app/store/database";
import { Journal } from "../../app/store/journal";
import { startServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { leaseAnswer, TestSkyNode } from "../helpers/test-skynode";
import { TestClient } from "../helpers/ws-client";

const fresh = freshDirs();

describe("journal", () => {
  test("numbers entries per telescope, refuses a duplicate command id, and reopens where it left off", () => {
    const dir = fresh();
    let db = openDatabase(dir);
    let j = new Journal(db);
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(j.append("a", "command", "c1", { x: 1 }).seq).toBe(1);
    expect(j.append("b", "command", "c1", { x: 2 }).seq).toBe(1);
    expect(j.append("a", "command_result", "c1", { status: "ok" }).seq).toBe(2);
    expect(() => j.append("a", "command", "c1", {})).toThrow();
    expect(j.append("a", "lease", null, { state: "active" }).seq).toBe(3);
    db.close();
    db = openDatabase(dir);
    j = new Journal(db);
    expect(j.lastSeq("a")).toBe(3);
    expect(j.since("a", 1).map((e) => [e.seq, e.kind])).toEqual([[2, "command_result"], [3, "lease"]]);
    expect(j.find("b", "c1", "command")?.body).toEqual({ x: 2 });
    expect(j.openCommands().map((e) => e.telescope_uid)).toEqual(["b"]);
    expect(j.latestLeases().map((e) => e.body)).toEqual([{ state: "active" }]);
    db.close();
  });
});

describe("the journal across a restart", () => {
  test("commands, results and the active lease survive; replay and redelivery resume", async () => {
    const dataDir = fresh();
    let server = await startServer({ dataDir, args: ["--role", "hub"] });
    let node = await TestSkyNode.connect(server);
    node.answer = (cmd) => (cmd.command.command.command_type === "mount.point" ? null : leaseAnswer(cmd));
    const token = server.token("alice", "operator");
    let cmds = await TestClient.connect(`${server.ws}/v1/ws/commands?token=${token}`);
    cmds.send({ kind: "subscribe_commands", subscription_id: "s", filter: { telescope_uid: "sim-1" } });
    await cmds.kind("ack");
    await cmds.request({ kind: "publish_command", id: "acq", telescope_uid: "sim-1", command_id: "acq", command: { command_type: "manual_control_lease.acquire", duration_s: 3600 } });
    const lease = (await cmds.next((f) => f.kind === "event_command_result")).result.data;
    await cmds.request({ kind: "publish_command", id: "slew", telescope_uid: "sim-1", command_id: "slew", command: { command_type: "mount.point", target: { type: "named", name: "M42" } } });
    await node.commands.next((f) => f.kind === "event_command" && f.command.command_id === "slew");
    node.close();
    cmds.close();
    expect(await server.stop()).toBe(0);

    server = await startServer({ dataDir, args: ["--role", "hub"] });
    const stream = await TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`);
    stream.send({ kind: "subscribe_stream", subscription_id: "l", streams: ["manual_control_lease"] });
    expect((await stream.kind("event_manual_control_lease")).lease).toMatchObject({ state: "active", holder: "alice", lease_id: lease.lease_id });
    cmds = await TestClient.connect(`${server.ws}/v1/ws/commands?token=${token}`);
    cmds.send({ kind: "subscribe_commands", subscription_id: "r", filter: { telescope_uid: "sim-1" }, since_seq: 0 });
    await cmds.kind("ack");
    const replay = [];
    for (let i = 0; i < 3; i++) replay.push(await cmds.next((f) => f.kind.startsWith("event_command")));
    expect(replay.map((f) => [f.seq, f.kind])).toEqual([[1, "event_command"], [2, "event_command_result"], [4, "event_command"]]);
    // The open slew reaches the SkyNode when it reconnects; the lease holder still commands.
    node = await TestSkyNode.connect(server);
    expect((await node.commands.next((f) => f.kind === "event_command")).command.command_id).toBe("slew");
    expect(await cmds.request({ kind: "publish_command", id: "foc", telescope_uid: "sim-1", command_id: "foc", command: { command_type: "focuser.move_relative", delta_um: 10 } })).toMatchObject({ kind: "ack", seq: 5 });
    node.close();
    expect(await server.stop()).toBe(0);
  });

  test("a journal write that fails answers internal, and nothing reaches the SkyNode", async () => {
    const dataDir = fresh();
    const server = await startServer({ dataDir, config: "[store]\nbusy_timeout_ms = 50\n", args: ["--role", "hub"] });
    const node = await TestSkyNode.connect(server);
    const owner = await TestClient.connect(`${server.ws}/v1/ws/commands?token=${server.token("olga", "owner")}`);
    // Another process holds the write lock (as a backup tool or a stuck second instance would).
    const locker = new Database(join(dataDir, "skynode.db"));
    locker.run("BEGIN IMMEDIATE");
    const err = await owner.request({ kind: "publish_command", id: "locked", telescope_uid: "sim-1", command_id: "locked", command: { command_type: "rotator.move_relative", delta_deg: 1 } });
    expect(err).toMatchObject({ kind: "error", id: "locked", code: "internal" });
    locker.run("ROLLBACK");
    locker.close();
    const ok = await owner.request({ kind: "publish_command", id: "locked", telescope_uid: "sim-1", command_id: "locked", command: { command_type: "rotator.move_relative", delta_deg: 1 } });
    expect(ok).toMatchObject({ kind: "ack", seq: 1 });
    const delivered = await node.commands.next((f) => f.kind === "event_command");
    expect(delivered.seq).toBe(1);
    expect(node.received).toHaveLength(1);
    node.close();
    owner.close();
    expect(await server.stop()).toBe(0);
  });
});
