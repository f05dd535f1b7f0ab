// The mount's serial port pulled mid-goto (the pty closed under a running slew): the appliance process stays up, the
// slew fails once and says why, the mount shows disconnected and refuses commands, and when the port comes back the
// driver re-initialises the board, stops whatever it was left doing, and slews again. A limit switch that trips while
// the line is gone (the board slewing on into it, unreachable) gets its instant stop as soon as the line is back.
//
// A real appliance process (`skynode serve`) on a socat pty pair (and, where the test drives a limit switch, the same
// server in this process); the Synta board simulator on the far end, in this process, reopening its own end when the
// pty comes back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { localSiderealDeg } from "../../app/astro/coordinates";
import { issueToken } from "../../app/auth/principal";
import { loadSigningKey } from "../../app/auth/signing-key";
import { startServer as startInProcess, type Running } from "../../app/cli/serve";
import { parseConfig } from "../../app/config/load";
import { SimGpioChip } from "../../hal/sim/gpio-chip";
import { SyntaBoard, type ReceivedCommand } from "../../hal/sim/synta-board";
import { FAST_SIM, Operator } from "../helpers/operator";
import { PtyPair } from "../helpers/pty";
import { startServer, type TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { until } from "../hal/synta/rig";
import { boardOnPty } from "../helpers/pty-board";

const constraint = (snap: Record<string, any>, name: string) => snap.constraints.find((c: any) => c.name === name);


const mountSection = (pty: string) => `[mount]\nport = "${pty}"\nbaud = 115200\nreopen_ms = 50\ntimeout_ms = 300\nretries = 2\n`;
const resultsOf = (op: Operator, commandId: string) => op.commands.received.filter((f) => f.kind === "event_command_result" && f.result.command_id === commandId);

describe("a spawned appliance", () => {
  let rig: Awaited<ReturnType<typeof boardOnPty>>;
  let pair: PtyPair;
  let board: SyntaBoard;
  let received: ReceivedCommand[];
  let server: TestServer;
  let op: Operator;

  beforeAll(async () => {
    rig = await boardOnPty();
    ({ pair, board, received } = rig);
    server = await startServer({ config: `limits = []\n${FAST_SIM.replace("[mount]\n", mountSection(pair.a))}` });
    op = await Operator.connect(server, "pull");
    await op.snapshot("event_device_snapshot", (s) => s.connected === true, "mount");
    await op.acquire(3600);
  });

  afterAll(async () => {
    op?.close();
    expect(await server.stop()).toBe(0);
    await rig?.close();
  });

  const results = (commandId: string) => resultsOf(op, commandId);

  test("pulled mid-goto: one error result saying why, disconnected, process up; back: the board is stopped and it slews again", async () => {
    const { command_id, answer } = await op.publish({ command_type: "mount.point", target: { type: "horizontal", alt_deg: 20, az_deg: 180 } });
    expect(answer.kind).toBe("ack");
    await op.snapshot("event_device_snapshot", (s) => s.state === "slewing", "mount");
    await until(board.motion, () => board.moving(1) || board.moving(2), 5000, "the board slewing");

    const gone = op.snapshot("event_device_snapshot", (s) => s.connected === false, "mount");
    await pair.stop();
    const result = await op.result(command_id, 20_000);
    expect(result.status).toBe("error");
    expect(result.error.code).toBe("conflict");
    expect(result.error.message).toMatch(/disconnected/);
    const mount = await gone;
    expect(mount.connected).toBe(false);
    const status = await op.snapshot("event_constraint_status_snapshot", (s) => constraint(s, "devices_connected")?.satisfied === false);
    expect(constraint(status, "devices_connected").value).toBe("disconnected: mount");
    expect(status.safe).toBe(false);

    // Still up and answering, on both of its faces.
    expect(server.proc.exitCode).toBeNull();
    expect((await fetch(`${server.http}/healthz`)).status).toBe(200);
    const refused = await op.run({ command_type: "mount.point", target: { type: "equatorial", ra_deg: 120, dec_deg: 80, epoch: "J2000" } });
    expect(refused.status).toBe("error");
    expect(refused.error.code).toBe("conflict");
    expect(refused.error.message).toMatch(/disconnected/);

    // Back: re-initialised, and nothing left running that the SkyNode did not ask for.
    const mark = received.length;
    const back = op.snapshot("event_device_snapshot", (s) => s.connected === true && s.state === "idle", "mount", 20_000);
    await pair.restart();
    await back;
    await until(board.motion, () => !board.moving(1) && !board.moving(2), 10_000, "the board to be still");
    expect(received.slice(mark).some((c) => c.cmd === "e")).toBe(true); // re-initialised
    expect(received.slice(mark).filter((c) => c.cmd === "J")).toEqual([]);
    const again = await op.run({ command_type: "mount.point", target: { type: "equatorial", ra_deg: 120, dec_deg: 80, epoch: "J2000" } }, 30_000);
    expect(again.status).toBe("ok");

    // Results are sequenced per telescope: by now any second result for the interrupted command would have arrived.
    expect(results(command_id)).toHaveLength(1);
    expect(server.proc.exitCode).toBeNull();
  });
});

describe("an appliance with a limit switch", () => {
  const SITE = { latitude_deg: 60, longitude_deg: 10, elevation_m: 100 };
  const dirs = freshDirs();
  let rig: Awaited<ReturnType<typeof boardOnPty>>;
  let app: Running;
  let op: Operator;

  /** An equatorial target that stands at hour angle `ha` (degrees, + west) now. */
  function atHourAngle(ha: number, dec = 50) {
    const ra = (((localSiderealDeg(new Date(), SITE) - ha) % 360) + 360) % 360;
    return { type: "equatorial", ra_deg: ra, dec_deg: dec, epoch: "J2000" };
  }

  beforeAll(async () => {
    process.env.SKYNODE_LOG_LEVEL ??= "silent";
    rig = await boardOnPty();
    const limits = `limits = [{ name = "ra-west", axis = "ra", direction = "positive", chip = "sim", line = 1, debounce_us = 0 }]\n`;
    const config = parseConfig(limits + FAST_SIM.replace("[mount]\n", mountSection(rig.pair.a)).replace("ha_limit_deg = 180", "ha_limit_deg = 90"));
    const dataDir = dirs();
    app = await startInProcess({ host: "127.0.0.1", port: 0, dataDir, role: "appliance", config });
    const key = loadSigningKey(dataDir);
    // Operator needs only these two of a spawned server's handles.
    const server = { ws: `ws://127.0.0.1:${app.server.port}`, token: (sub: string, role: "operator") => issueToken(key, { sub, role }) };
    op = await Operator.connect(server as unknown as TestServer, "pull-limit");
    await op.snapshot("event_device_snapshot", (s) => s.connected === true, "mount");
    await op.acquire(3600);
  });

  afterAll(async () => {
    op?.close();
    await app?.stop();
    await rig?.close();
  });

  test("the switch trips while the line is gone: back, the board gets the instant stop first, motion into it is refused, away works", async () => {
    const { board, received, pair } = rig;
    const devices = app.node!.telescope.devices;
    const chip = devices.chips[0];
    if (!(chip instanceof SimGpioChip)) throw new Error("the switch is not on the simulated chip");
    const { command_id } = await op.publish({ command_type: "mount.point", target: atHourAngle(80) });
    await until(board.motion, () => board.moving(1), 5000, "the hour-angle motor slewing");

    const gone = op.snapshot("event_device_snapshot", (s) => s.connected === false, "mount");
    await pair.stop();
    const result = await op.result(command_id, 20_000);
    expect(result.status).toBe("error");
    expect(result.error.message).toMatch(/disconnected/);
    await gone;
    // Unreachable, the board slews on, into the switch: nobody can stop it until the line is back.
    expect(board.moving(1)).toBe(true);
    chip.drive(1, false);
    expect(devices.limits.states()).toMatchObject([{ name: "ra-west", state: "tripped" }]);

    const mark = received.length;
    await pair.restart();
    await until(board.received, () => received.slice(mark).some((c) => c.cmd === "L" && c.axis === "1"), 10_000, "the instant stop after reconnecting");
    const after = received.slice(mark).filter((c) => c.axis === "1" && c.cmd !== "f" && c.cmd !== "j");
    // Re-initialised (e a b g), then stopped at once, not braked on into the switch.
    expect(after.map((c) => c.cmd).filter((c) => !"eabg".includes(c))[0]).toBe("L");
    await until(board.motion, () => !board.moving(1), 5000, "the hour-angle motor still");
    await op.snapshot("event_device_snapshot", (s) => s.connected === true, "mount", 20_000);

    const into = await op.run({ command_type: "mount.point", target: atHourAngle(85) });
    expect(into.status).toBe("error");
    expect(into.error.code).toBe("conflict");
    expect(into.error.message).toContain('positive limit switch "ra-west"');
    // Backing off is accepted while the switch is still closed; it opens once the axis has moved off it.
    const away = await op.publish({ command_type: "mount.point", target: atHourAngle(-20) });
    expect(away.answer.kind).toBe("ack");
    await until(board.motion, () => board.stepsPerSecond(1) < 0, 5000, "the hour-angle motor backing off");
    chip.drive(1, true);
    expect((await op.result(away.command_id, 30_000)).status).toBe("ok");
    expect(resultsOf(op, command_id)).toHaveLength(1);
    expect((await fetch(`http://127.0.0.1:${app.server.port}/healthz`)).status).toBe(200);
  });
});
