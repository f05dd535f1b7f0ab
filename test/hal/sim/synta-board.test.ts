// The simulated Synta motor controller, driven over an in-memory pipe with raw command lines: its answers and error
// codes, gotos that stop exactly on the target step, slews at the rate the step period gives, decelerating and
// instant stops, and the signals and fault injection the tests and the limit-switch simulation use.
import { describe, expect, test } from "bun:test";
import { SyntaBoard, type SyntaBoardOptions } from "../../../hal/sim/synta-board";
import { pipePair } from "../../../hal/serial/pipe";
import { asciiBytes, decodePosition, decodeStatus, encodePosition, encodeU24 } from "../../../hal/synta/codec";

/** A board on one end of a pipe and a raw line-level client on the other. */
function rig(opts: Partial<SyntaBoardOptions> = {}) {
  const [host, device] = pipePair(["host", "board"]);
  const board = new SyntaBoard({ slewRateDegS: 20, accelDegS2: 200, ...opts });
  board.attach(device);
  let buf = "";
  const waiting: ((line: string) => void)[] = [];
  const unread: string[] = [];
  host.data.on((chunk) => {
    buf += new TextDecoder("latin1").decode(chunk);
    let cr: number;
    while ((cr = buf.indexOf("\r")) >= 0) {
      const line = buf.slice(0, cr);
      buf = buf.slice(cr + 1);
      const w = waiting.shift();
      if (w) w(line);
      else unread.push(line);
    }
  });
  const nextLine = () => (unread.length ? Promise.resolve(unread.shift()!) : new Promise<string>((r) => waiting.push(r)));
  /** Sends one command line and returns the board's reply line. */
  const ask = (line: string) => {
    host.write(asciiBytes(`:${line}\r`));
    return nextLine();
  };
  return { host, device, board, ask, nextLine };
}

/** Resolves when the axis is still (checked at each motion event), failing after `ms`. */
function stopped(board: SyntaBoard, axis: 1 | 2, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      off();
      reject(new Error(`axis ${axis} still moving after ${ms} ms`));
    }, ms);
    const check = () => {
      if (board.moving(axis)) return;
      clearTimeout(guard);
      off();
      resolve();
    };
    const off = board.motion.on(check);
    check();
  });
}

describe("SyntaBoard", () => {
  test("answers the inquiries with the configured geometry, starting at step 0 uninitialised", async () => {
    const { ask } = rig({ cpr: 9_024_000, timerFreq: 64_935, highSpeedRatio: 16, firmware: "020301" });
    expect(await ask("e1")).toBe("=020301");
    expect(await ask("a1")).toBe(`=${encodeU24(9_024_000)}`);
    expect(await ask("b2")).toBe(`=${encodeU24(64_935)}`);
    expect(await ask("g1")).toBe("=10");
    expect(await ask("j2")).toBe("=000080");
    expect(decodeStatus((await ask("f1")).slice(1))).toMatchObject({ initialized: false, running: false, slewMode: true });
    expect(await ask("F3")).toBe("=");
    expect(decodeStatus((await ask("f2")).slice(1)).initialized).toBe(true);
  });

  test("error replies as a board gives them", async () => {
    const { ask } = rig();
    expect(await ask("x1")).toBe("!0"); // unknown command
    expect(await ask("j7")).toBe("!0"); // no such axis
    expect(await ask("j")).toBe("!1"); // no axis at all
    expect(await ask("I1123")).toBe("!1"); // data too short
    expect(await ask("I1GGGGGG")).toBe("!3"); // not hex
    expect(await ask("J1")).toBe("!4"); // not initialised
    expect(await ask("F1")).toBe("=");
    expect(await ask("G130")).toBe("=");
    expect(await ask(`I1${encodeU24(6)}`)).toBe("=");
    expect(await ask("J1")).toBe("=");
    expect(await ask("G101")).toBe("!2"); // mode change while running
    expect(await ask(`E1${encodePosition(0)}`)).toBe("!2");
    expect(await ask("L1")).toBe("=");
    expect(await ask("G101")).toBe("=");
  });

  test("gotos stop exactly on the target step, forward and backward, relative or absolute", async () => {
    const { ask, board } = rig();
    await ask("F3");
    const goto = async (mode: string, data: string, set: "H" | "S") => {
      expect(await ask(`G1${mode}`)).toBe("=");
      await ask(`I1${encodeU24(6)}`);
      await ask(`${set}1${data}`);
      await ask(`M1${encodeU24(3200)}`);
      await ask("J1");
      expect(board.moving(1)).toBe(true);
      await stopped(board, 1);
      return decodePosition((await ask("j1")).slice(1));
    };
    expect(await goto("00", encodeU24(50_000), "H")).toBe(50_000);
    expect(await goto("01", encodeU24(80_123), "H")).toBe(-30_123);
    expect(await goto("00", encodePosition(7), "S")).toBe(7);
    // A short low-speed goto (mode 2) lands exactly too.
    expect(await goto("21", encodeU24(1234), "H")).toBe(7 - 1234);
    expect(decodeStatus((await ask("f1")).slice(1)).running).toBe(false);
  });

  test("a slew runs at timerFreq / period steps per second (× the ratio at high speed)", async () => {
    const { ask, board } = rig({ accelDegS2: 1000 });
    await ask("F3");
    await ask("G210");
    await ask(`I2${encodeU24(620)}`);
    await ask("J2");
    await Bun.sleep(1); // past the (sub-millisecond) ramp
    expect(board.stepsPerSecond(2)).toBeCloseTo(64_935 / 620, 6);
    expect(board.rateDegS(2)).toBeCloseTo(0.004178, 5);
    // A new period while running re-times the slew without stopping.
    await ask(`I2${encodeU24(310)}`);
    await Bun.sleep(1);
    expect(board.stepsPerSecond(2)).toBeCloseTo((64_935 / 310), 6);
    await ask("L2");
    await ask("G231");
    await ask(`I2${encodeU24(1000)}`);
    await ask("J2");
    await Bun.sleep(1);
    expect(board.stepsPerSecond(2)).toBeCloseTo((-64_935 / 1000) * 16, 6);
    expect(decodeStatus((await ask("f2")).slice(1))).toMatchObject({ running: true, slewMode: true, backward: true, highSpeed: true });
  });

  test("K decelerates (still running right after), L stops dead", async () => {
    const { ask, board } = rig({ slewRateDegS: 10, accelDegS2: 20 });
    await ask("F3");
    await ask("G100");
    await ask(`H1${encodeU24(9_024_000 / 4)}`); // 90°
    await ask("J1");
    await Bun.sleep(300);
    expect(await ask("K1")).toBe("=");
    expect(board.moving(1)).toBe(true);
    const atK = board.steps(1);
    await stopped(board, 1);
    expect(board.steps(1)).toBeGreaterThan(atK);
    expect(board.steps(1)).toBeLessThan(9_024_000 / 4);

    await ask("G100");
    await ask("J1");
    await Bun.sleep(300);
    let events = 0;
    board.motion.on(() => events++);
    expect(await ask("L1")).toBe("=");
    expect(board.moving(1)).toBe(false);
    expect(board.stepsPerSecond(1)).toBe(0);
    expect(events).toBe(1);
  });

  test("every command line is reported on `received`, with its arrival time", async () => {
    const { ask, board } = rig();
    const seen: { cmd: string; axis: string; data: string; at: number }[] = [];
    board.received.on((c) => seen.push(c));
    const before = performance.now();
    await ask("j1");
    await ask(`I2${encodeU24(620)}`);
    await ask("zz");
    expect(seen.map(({ cmd, axis, data }) => ({ cmd, axis, data }))).toEqual([
      { cmd: "j", axis: "1", data: "" },
      { cmd: "I", axis: "2", data: encodeU24(620) },
      { cmd: "z", axis: "z", data: "" },
    ]);
    for (const s of seen) expect(s.at).toBeGreaterThanOrEqual(before);
  });

  test("fault injection: echo, mute, garble; and it serves a link re-attached after a reconnect", async () => {
    const echoing = rig({ echo: true });
    expect(await echoing.ask("j1")).toBe(":j1");
    expect(await echoing.nextLine()).toBe("=000080");

    const { ask, board, host, device } = rig();
    board.mute(true);
    let heard = 0;
    board.received.on(() => heard++);
    host.write(asciiBytes(":F1\r"));
    await new Promise<void>((r) => board.received.on(() => r()));
    expect(heard).toBe(1);
    expect(board.initialized(1)).toBe(true); // obeyed, but silent
    board.mute(false);
    board.garble("\x00zz");
    expect(await ask("j1")).toBe("\x00zz=000080");

    host.sever();
    host.restore();
    board.attach(device);
    expect(await ask("f1")).toBe("=101");
  });
});
