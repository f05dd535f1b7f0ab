// A limit-switch reader thread that dies must not leave the switches looking clear. When the GPIO event reader hits
// end of file, a read error, or is terminated from outside, its switches become `unknown`: treated as tripped (the
// axis halted, motion towards them refused by LimitedAxis and at the serial line), the telescope unsafe with the
// reason; the reader is restarted with backoff and the levels re-read before a switch counts as clear again.
//
// The GPIO chip is the simulated one with `readerThread`: its edges are kernel event records in a pipe read by the
// real EventReader thread (the same code a /dev/gpiochip request runs), and it breaks that thread the three ways.
// The motor controller is the Synta board simulator at the far end of a real pty pair.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { localSiderealDeg } from "../../app/astro/coordinates";
import { issueToken } from "../../app/auth/principal";
import { loadSigningKey } from "../../app/auth/signing-key";
import { startServer, type Running } from "../../app/cli/serve";
import { parseConfig } from "../../app/config/load";
import { LimitGuard, type LimitState, type LimitSwitch } from "../../hal/limits/limit-guard";
import { silentLog } from "../../hal/log";
import { SerialPort } from "../../hal/serial/port";
import { SimGpioChip, type ReaderFault } from "../../hal/sim/gpio-chip";
import { SimMountAxis } from "../../hal/sim/mount-axis";
import { SyntaAxis } from "../../hal/synta/axis";
import { SyntaClient } from "../../hal/synta/client";
import { FAST_SIM, Operator } from "../helpers/operator";
import type { TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { until } from "../hal/synta/rig";
import { boardOnPty } from "../helpers/pty-board";

const WEST: LimitSwitch = { name: "ra-west", axis: "ra", direction: "positive", line: 3, active_low: true, bias: "pull-up", debounce_us: 0 };
const HELD = "the simulated chip is held down by the test";

const WHY: Record<ReaderFault, RegExp> = {
  eof: /^GPIO reader failed \(the event fd reached end of file\)$/,
  error: /^GPIO reader failed \(read failed: Is a directory \(EISDIR\)\)$/,
  terminate: /^GPIO reader failed \(the reader thread was terminated\)$/,
};


describe("the reader fails under a LimitGuard", () => {
  let rig: Awaited<ReturnType<typeof boardOnPty>>;
  let host: SerialPort;
  let client: SyntaClient;
  let ra: SyntaAxis;
  let chip: SimGpioChip;
  let guard: LimitGuard;

  beforeEach(async () => {
    rig = await boardOnPty({ slewRateDegS: 20, accelDegS2: 40 });
    host = new SerialPort({ path: rig.pair.a, baudRate: 115200, reopenMs: 50, name: "mount serial port" });
    await host.whenConnected(5000);
    client = new SyntaClient(host, { timeoutMs: 1000, retries: 2 });
    ra = new SyntaAxis(client, { name: "ra", channel: "1", home_deg: 0, min: -180, max: 180, slewRateDegS: 20, reinitMs: 100 });
    await ra.init();
    const dec = new SimMountAxis("dec", { position: 0, min: -90, max: 90, speed: 20, accel: 200 });
    chip = new SimGpioChip({ label: "test", lines: 8, readerThread: { backoff: { initialMs: 10, maxMs: 100 } } });
    chip.drive(WEST.line, true); // open: pulled up, active-low
    guard = new LimitGuard([{ chip, switches: [WEST] }], { ra, dec }, silentLog);
  });

  afterEach(async () => {
    guard.release();
    chip.close();
    ra.close();
    client.close();
    await host.close();
    await rig.close();
  });

  const west = (): LimitState => guard.states()[0]!;

  test.each(["eof", "error", "terminate"] as const)("%s: unknown, halted, refused; restarted, re-read, then clear again", async (fault) => {
    // Turning towards the switch when the reader dies.
    guard.ra.track(1);
    await until(rig.board.motion, () => rig.board.moving(1), 5000, "the motor turning");
    const seen: LimitState[] = [];
    const off = ra.changed.on(() => seen.push(west()));
    chip.holdReaders(HELD);
    chip.failReaders(fault);
    await until(ra.changed, () => west().state === "unknown", 5000, "the switch to become unknown");
    off();
    // First for the reader's own failure, then (restarts refused while held) for the failed restarts.
    const firstUnknown = seen.find((s) => s.state === "unknown")!;
    expect(firstUnknown).toMatchObject({ name: "ra-west", state: "unknown", tripped: true });
    expect(firstUnknown.reason).toMatch(WHY[fault]);
    await until(ra.changed, () => west().reason === `GPIO reader failed (it could not be restarted: ${HELD})`, 5000, "a refused restart");

    // Halted: the instant stop reached the board and the motor is still.
    await until(rig.board.motion, () => !rig.board.moving(1), 5000, "the motor to stop");
    expect(rig.received.some((c) => c.cmd === "L" && c.axis === "1")).toBe(true);

    // Motion towards it is refused by the axis wrapper...
    expect(() => guard.ra.track(1)).toThrow(/cannot tell whether its positive limit switch "ra-west" is tripped/);
    await expect(guard.ra.moveTo(ra.status().position + 1)).rejects.toMatchObject({ kind: "limit", details: { switch: "ra-west", state: "unknown" } });
    // ...and by the serial line itself, for a driver that went round the wrapper.
    const mark = rig.received.length;
    await expect(ra.moveTo(ra.status().position + 1)).rejects.toMatchObject({ kind: "limit", details: { axis: "ra", limit: "positive", switch: "ra-west" } });
    expect(rig.received.slice(mark).filter((c) => c.cmd === "J")).toEqual([]);
    // Away from it is allowed.
    expect(await guard.ra.moveTo(ra.status().position - 1)).toEqual({ arrived: true });

    // The switch closes while nobody reads it: that edge is lost, the re-read finds it.
    chip.drive(WEST.line, false);
    chip.holdReaders(null);
    await until(ra.changed, () => west().state !== "unknown", 5000, "the restarted reader's re-read");
    expect(west()).toMatchObject({ state: "tripped", tripped: true });
    expect(west().reason).toBeUndefined();
    await expect(guard.ra.moveTo(ra.status().position + 1)).rejects.toMatchObject({ kind: "limit", details: { state: "tripped" } });

    // Its opening is an edge the new reader thread delivers; then motion that way works again.
    chip.drive(WEST.line, true);
    await until(ra.changed, () => west().state === "clear", 5000, "the release through the new reader");
    expect(await guard.ra.moveTo(ra.status().position + 1)).toEqual({ arrived: true });
  });
});

describe("the reader fails under the SkyNode", () => {
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
  const constraint = (snap: Record<string, any>, name: string) => snap.constraints.find((c: any) => c.name === name);

  beforeAll(async () => {
    process.env.SKYNODE_LOG_LEVEL ??= "silent";
    rig = await boardOnPty({ slewRateDegS: 20, accelDegS2: 40 });
    const limits = `limits = [
  { name = "ra-east", axis = "ra", direction = "negative", chip = "sim-thread", line = 0, debounce_us = 0 },
  { name = "ra-west", axis = "ra", direction = "positive", chip = "sim-thread", line = 1, debounce_us = 0 },
]
`;
    const mount = `[mount]\nport = "${rig.pair.a}"\nbaud = 115200\nreopen_ms = 50\ntimeout_ms = 300\nretries = 2\n`;
    const config = parseConfig(limits + FAST_SIM.replace("[mount]\n", mount).replace("ha_limit_deg = 180", "ha_limit_deg = 90"));
    const dataDir = dirs();
    app = await startServer({ host: "127.0.0.1", port: 0, dataDir, role: "appliance", config });
    const key = loadSigningKey(dataDir);
    // Operator needs only these two of a spawned server's handles.
    const server = { ws: `ws://127.0.0.1:${app.server.port}`, token: (sub: string, role: "operator") => issueToken(key, { sub, role }) };
    op = await Operator.connect(server as unknown as TestServer, "reader");
    await op.acquire(3600);
  });

  afterAll(async () => {
    op?.close();
    await app?.stop();
    await rig?.close();
  });

  test("terminated: the slew stops, the telescope is unsafe saying why, motion is refused; restarted: safe again and it slews", async () => {
    const chip = app.node!.telescope.devices.chips[0];
    if (!(chip instanceof SimGpioChip)) throw new Error("the switches are not on the simulated chip");
    const { command_id, answer } = await op.publish({ command_type: "mount.point", target: atHourAngle(60) });
    expect(answer.kind).toBe("ack");
    await op.snapshot("event_device_snapshot", (s) => s.state === "slewing", "mount");

    const unsafe = op.snapshot("event_constraint_status_snapshot", (s) => constraint(s, "limit_switches")?.satisfied === false);
    chip.holdReaders(HELD);
    chip.failReaders("terminate");
    const result = await op.result(command_id, 20_000);
    expect(result.status).toBe("error");
    expect(result.error.message).toContain("cannot be read (GPIO reader failed (the reader thread was terminated))");
    const status = await unsafe;
    expect(status.safe).toBe(false);
    expect(constraint(status, "limit_switches").value).toMatch(/^unknown: ra-east, ra-west: GPIO reader failed \(/);
    expect(status.limits.map((l: LimitState) => [l.name, l.state, l.tripped])).toEqual([
      ["ra-east", "unknown", true],
      ["ra-west", "unknown", true],
    ]);
    await until(rig.board.motion, () => !rig.board.moving(1), 5000, "the hour-angle motor to stop");

    const refused = await op.run({ command_type: "mount.point", target: atHourAngle(-30) });
    expect(refused.status).toBe("error");
    expect(refused.error.code).toBe("conflict");
    expect(refused.error.message).toMatch(/cannot tell whether its (positive|negative) limit switch/);

    const safe = op.snapshot("event_constraint_status_snapshot", (s) => constraint(s, "limit_switches")?.satisfied === true, undefined, 20_000);
    chip.holdReaders(null);
    const again = await safe;
    expect(constraint(again, "limit_switches").value).toBe("none tripped");
    expect(again.limits.map((l: LimitState) => l.state)).toEqual(["clear", "clear"]);
    const slew = await op.run({ command_type: "mount.point", target: atHourAngle(-30) }, 30_000);
    expect(slew.status).toBe("ok");
  });
});
