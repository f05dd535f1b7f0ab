// The SkyNode on its real drivers: limit switches stopping a slew (simulated chip driven by the simulated motor
// board, both behind the real Synta driver), and the mount's serial device vanishing mid-slew and coming back
// (a socat pty pair between the appliance's serial port and a Synta board simulator in this process).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { localSiderealDeg } from "../../app/astro/coordinates";
import { SerialPort } from "../../hal/serial/port";
import { SyntaBoard } from "../../hal/sim/synta-board";
import { FAST_SIM, Operator } from "../helpers/operator";
import { PtyPair } from "../helpers/pty";
import { startServer, type TestServer } from "../helpers/server";

const SITE = { latitude_deg: 60, longitude_deg: 10, elevation_m: 100 };

/** An equatorial target that stands at hour angle `ha` (degrees, + west) now. */
function atHourAngle(ha: number, dec = 50) {
  const ra = (((localSiderealDeg(new Date(), SITE) - ha) % 360) + 360) % 360;
  return { type: "equatorial", ra_deg: ra, dec_deg: dec, epoch: "J2000" };
}

const limitState = (snap: Record<string, any>, name: string) => snap.limits.find((l: any) => l.name === name)?.tripped;
const constraint = (snap: Record<string, any>, name: string) => snap.constraints.find((c: any) => c.name === name);

describe("limit switches", () => {
  let server: TestServer;
  let op: Operator;
  beforeAll(async () => {
    const limits = `limits = [
  { name = "ra-west", axis = "ra", direction = "positive", line = 1, debounce_us = 0, sim_at_deg = 30 },
  { name = "ra-east", axis = "ra", direction = "negative", line = 0, debounce_us = 0, sim_at_deg = -100 },
]
`;
    server = await startServer({ config: limits + FAST_SIM.replace("ha_limit_deg = 180", "ha_limit_deg = 90") });
    op = await Operator.connect(server, "lim");
    await op.acquire(3600);
  });
  afterAll(async () => {
    op?.close();
    expect(await server.stop()).toBe(0);
  });

  test("a switch tripping mid-slew stops the axis; motion into it is refused, out of it allowed", async () => {
    const tripped = op.snapshot("event_device_snapshot", (s) => limitState(s, "ra-west") === true, "mount");
    const unsafe = op.snapshot("event_constraint_status_snapshot", (s) => constraint(s, "limit_switches")?.satisfied === false);
    // Dec has 90° to go, RA 30° to the switch: when RA trips, dec is still far from its goal.
    const slew = await op.run({ command_type: "mount.point", target: atHourAngle(45, 0) }, 30_000);
    expect(slew.status).toBe("error");
    // Dec stopped with RA instead of finishing the slew alone.
    const after = await op.snapshot("event_device_snapshot", (s) => s.axes.dec.state === "idle", "mount");
    expect(after.axes.dec.position_deg).toBeGreaterThan(20);
    expect(slew.error.code).toBe("conflict");
    expect(slew.error.message).toContain('ra positive limit switch "ra-west" tripped');
    const mount = await tripped;
    // Stopped at the switch (30°), not at the target (45°).
    expect(mount.axes.ha.position_deg).toBeGreaterThanOrEqual(30);
    expect(mount.axes.ha.position_deg).toBeLessThan(32);
    expect(mount.axes.ha.state).toBe("idle");
    const status = await unsafe;
    expect(constraint(status, "limit_switches").value).toBe("tripped: ra-west");
    expect(status.safe).toBe(false);
    expect(status.limits.find((l: any) => l.name === "ra-west")).toMatchObject({ axis: "ra", direction: "positive", tripped: true });

    const into = await op.run({ command_type: "mount.point", target: atHourAngle(40) });
    expect(into.status).toBe("error");
    expect(into.error.code).toBe("conflict");
    expect(into.error.message).toContain('positive limit switch "ra-west"');
    expect(into.error.details).toMatchObject({ axis: "ra", limit: "positive", switch: "ra-west" });

    const released = op.snapshot("event_device_snapshot", (s) => limitState(s, "ra-west") === false, "mount");
    const out = await op.run({ command_type: "mount.point", target: atHourAngle(-20) }, 30_000);
    expect(out.status).toBe("ok");
    await released;
    expect(constraint(await op.snapshot("event_constraint_status_snapshot"), "limit_switches").satisfied).toBe(true);
  });
});

describe("the mount's serial device vanishing and coming back", () => {
  let pair: PtyPair;
  let boardPort: SerialPort;
  let server: TestServer;
  let op: Operator;
  beforeAll(async () => {
    pair = await PtyPair.open();
    // The motor board at the far end of the "cable"; its port reopens by itself when the pty comes back.
    boardPort = new SerialPort({ path: pair.b, baudRate: 115200, reopenMs: 50, name: "board" });
    await boardPort.whenConnected(5000);
    new SyntaBoard({ slewRateDegS: 30, accelDegS2: 60 }).attach(boardPort);
    const config = `limits = []\n${FAST_SIM.replace("[mount]\n", `[mount]\nport = "${pair.a}"\nbaud = 115200\nreopen_ms = 50\ntimeout_ms = 300\nretries = 2\n`)}`;
    server = await startServer({ config });
    op = await Operator.connect(server, "cable");
    await op.snapshot("event_device_snapshot", (s) => s.connected === true, "mount");
    await op.acquire(3600);
  });
  afterAll(async () => {
    op?.close();
    expect(await server.stop()).toBe(0);
    await boardPort.close();
    await pair.close();
  });

  test("unplugged mid-slew: the slew fails saying why, the mount shows disconnected, commands are refused; replugged: it works again", async () => {
    const { command_id, answer } = await op.publish({ command_type: "mount.point", target: { type: "horizontal", alt_deg: 20, az_deg: 180 } });
    expect(answer.kind).toBe("ack");
    await op.snapshot("event_device_snapshot", (s) => s.state === "slewing", "mount");
    const gone = op.snapshot("event_device_snapshot", (s) => s.connected === false, "mount");
    await pair.stop();
    const result = await op.result(command_id, 20_000);
    expect(result.status).toBe("error");
    expect(result.error.message).toMatch(/disconnected/);
    await gone;
    const status = await op.snapshot("event_constraint_status_snapshot", (s) => constraint(s, "devices_connected")?.satisfied === false);
    expect(constraint(status, "devices_connected").value).toBe("disconnected: mount");

    const refused = await op.run({ command_type: "mount.point", target: { type: "equatorial", ra_deg: 120, dec_deg: 80, epoch: "J2000" } });
    expect(refused.status).toBe("error");
    expect(refused.error.code).toBe("conflict");
    expect(refused.error.message).toMatch(/disconnected/);

    const back = op.snapshot("event_device_snapshot", (s) => s.connected === true, "mount", 20_000);
    await pair.restart();
    await back;
    const again = await op.run({ command_type: "mount.point", target: { type: "equatorial", ra_deg: 120, dec_deg: 80, epoch: "J2000" } }, 30_000);
    expect(again.status).toBe("ok");
  });
});
