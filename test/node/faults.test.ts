// Nothing is lost on faults: a crash mid-command is reported after the restart (never silently re-run), and a
// result produced while the hub link is down reaches the hub once it is back.
import { afterAll, describe, expect, test } from "bun:test";
import { FAST_SIM, Operator } from "../helpers/operator";
import { removeDir, startServer, tempDir, type TestServer } from "../helpers/server";

const dataDir = tempDir();
let server: TestServer | null = null;
afterAll(async () => {
  if (server) await server.stop();
  removeDir(dataDir);
});

describe("faults", () => {
  test("a command running when the process dies is reported as interrupted after the restart", async () => {
    server = await startServer({ config: FAST_SIM, dataDir });
    let op = await Operator.connect(server, "fay");
    await op.acquire(600);
    const { command_id, answer } = await op.publish({ command_type: "camera.exposure.start", duration_s: 120, binning: 1 });
    expect(answer.kind).toBe("ack");
    await op.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera");
    op.close();
    server.proc.kill("SIGKILL");
    await server.proc.exited;

    server = await startServer({ config: FAST_SIM, dataDir });
    op = await Operator.connect(server, "fay");
    // The result may already be journalled by the time this client subscribes: ask for everything since seq 0.
    await op.commands.request({ id: "replay", kind: "subscribe_commands", subscription_id: "replay", filter: { telescope_uid: "sim-1" }, since_seq: 0 });
    const result = (await op.commands.next((f) => f.kind === "event_command_result" && f.result.command_id === command_id, 15_000)).result;
    expect(result.status).toBe("error");
    expect(result.error.code).toBe("internal");
    expect(result.error.message).toContain("interrupted");
    // The telescope is idle (the exposure was not restarted) and usable.
    const cam = await op.snapshot("event_device_snapshot", () => true, "camera", 8000);
    expect(cam.state).toBe("idle");
    const again = await op.run({ command_type: "camera.exposure.start", duration_s: 0.1, binning: 2 });
    expect(again.status).toBe("ok");
    op.close();
  });
});
