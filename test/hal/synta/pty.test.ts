// The Synta axis driver and the simulated motor controller each on a real serial port at EQMOD's 9600 baud, joined
// by a socat pty pair: gotos land exactly over a real tty, the instant stop goes out at once, and killing socat (the
// cable pulled) then restarting it (replugged) takes the axis offline and back, re-initialised.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { SerialPort } from "../../../hal/serial/port";
import { PtyPair } from "../../helpers/pty";
import { axisRig, SIDEREAL_DEG_S, until } from "./rig";

const CPR = 9_024_000;
const stepsOf = (deg: number) => Math.round((deg * CPR) / 360);

let pair: PtyPair;
let hostPort: SerialPort;
let boardPort: SerialPort;
let rig: ReturnType<typeof axisRig>;

beforeAll(async () => {
  pair = await PtyPair.open();
  hostPort = new SerialPort({ path: pair.a, baudRate: 9600, reopenMs: 50, name: "mount serial port" });
  boardPort = new SerialPort({ path: pair.b, baudRate: 9600, reopenMs: 50, name: "motor controller serial port" });
  await Promise.all([hostPort.whenConnected(5000), boardPort.whenConnected(5000)]);
  rig = axisRig(hostPort, boardPort, { timeoutMs: 300, retries: 2 });
});

afterAll(async () => {
  rig?.close();
  await Promise.all([hostPort?.close(), boardPort?.close()]);
  await pair?.close(); // kills socat by its pid
});

describe("SyntaAxis over a pty pair", () => {
  test("initialises, lands gotos on the exact step both ways, and tracks at period 620", async () => {
    const { axis, board, rec } = rig;
    await axis.init();
    expect(axis.connected()).toBe(true);
    expect(await axis.moveTo(8)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(8));
    expect(await axis.moveTo(-3.25)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(-3.25));
    const mark = rec.mark();
    axis.track(SIDEREAL_DEG_S);
    await rec.next("J", "1", mark);
    expect(rec.motion(mark)).toEqual(["G10", "I6C0200", "J"]);
    await axis.stop();
    expect(board.moving(1)).toBe(false);
  });

  test("halt mid-slew: the instant stop reaches the board and the move says why", async () => {
    const { axis, board, rec } = rig;
    const move = axis.moveTo(40);
    await until([board.motion, axis.changed], () => board.steps(1) > stepsOf(0), 3000, "the slew under way");
    const mark = rec.mark();
    const l = rec.next("L", "1", mark);
    axis.halt("dec limit switch tripped");
    await l;
    expect(board.moving(1)).toBe(false);
    expect(await move).toEqual({ arrived: false, reason: "dec limit switch tripped" });
    await until(axis.changed, () => axis.status().state === "idle", 3000, "idle");
    expect(rec.motion(mark)).toEqual(["L"]);
  });

  test("unplugged mid-slew: the move ends and moves are refused; replugged: re-initialised and moving again", async () => {
    const { axis, board, rec } = rig;
    const start = board.steps(1);
    const move = axis.moveTo(-60);
    await until([board.motion, axis.changed], () => board.steps(1) < start - stepsOf(1), 3000, "the slew under way");
    await pair.stop();
    expect(await move).toEqual({ arrived: false, reason: "mount disconnected" });
    expect(axis.connected()).toBe(false);
    const refused = await axis.moveTo(0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeviceError);
    expect((refused as DeviceError).kind).toBe("disconnected");
    expect(() => axis.track(SIDEREAL_DEG_S)).toThrow("disconnected");

    const mark = rec.mark();
    await pair.restart();
    await until(axis.changed, () => axis.connected(), 10_000, "reconnected and re-initialised");
    expect(rec.since(mark)[0]).toMatchObject({ cmd: "e", axis: "1" });
    expect(await axis.moveTo(2)).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(stepsOf(2));
  });
});
