// The limit reflex latches. A goto is under way on the main thread (G, I, H, M, then J) when the switch trips; the
// GPIO reader thread writes the instant stop on the line at once, but the main thread is busy and hears of the edge
// only later. Its goto sequence must not start the motor into the switch after that stop: the line refuses the `J`
// (a DeviceError "limit" for the move), while motion away from the switch is still accepted.
//
// Over a real pty pair to the simulated Synta board, the real SerialPort, SyntaClient, SyntaAxis and LimitGuard, and
// the real EventReader thread reading a pipe that stands in for the line request fd (the records the kernel would
// return), as in test/hal/limits/reflex.test.ts.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { GpioChip, GpioInputs, LineEdge } from "../../hal/gpio/chip";
import { EventReader } from "../../hal/gpio/event-reader";
import * as libc from "../../hal/gpio/libc";
import { encodeLineEvents, LineEventId } from "../../hal/gpio/uapi";
import { LimitGuard, type LimitSwitch } from "../../hal/limits/limit-guard";
import { silentLog } from "../../hal/log";
import { SerialPort } from "../../hal/serial/port";
import { SimMountAxis } from "../../hal/sim/mount-axis";
import { SyntaBoard, type ReceivedCommand } from "../../hal/sim/synta-board";
import { Signal } from "../../hal/signal";
import { SyntaAxis } from "../../hal/synta/axis";
import { SyntaClient } from "../../hal/synta/client";
import { PtyPair } from "../helpers/pty";
import { until } from "../hal/synta/rig";

const WEST: LimitSwitch = { name: "ra-west", axis: "ra", direction: "positive", line: 17, active_low: true, bias: "pull-up", debounce_us: 0 };

/** A GPIO chip whose input request is read by the real reader thread from a pipe: `edge()` writes a record into it
 * as the kernel would (and sets the level values() reads). */
function pipeChip() {
  const [r, w] = libc.pipe();
  const levels = new Map<number, boolean>();
  const readers: EventReader[] = [];
  let seqno = 0;
  const chip: GpioChip = {
    info: { name: "gpiochip-pipe", label: "pipe", lines: 64 },
    requestInputs(request) {
      const reflexes = (request.reflexes ?? []).map((x) => ({ offset: x.offset, wire: x.wire.buffer, bytes: x.bytes, latch: x.latch?.id }));
      const reader = new EventReader(r, { name: "limit lines", reflexes });
      readers.push(reader);
      const edges = new Signal<LineEdge>();
      reader.edges.on((e) => edges.emit(e));
      const inputs: GpioInputs = {
        edges,
        health: new Signal(),
        values: () => request.lines.map((l) => levels.get(l.offset) ?? false),
        release: () => reader.stop(),
      };
      return inputs;
    },
    requestOutputs() {
      throw new Error("no outputs on this chip");
    },
    close() {},
  };
  return {
    chip,
    /** The switch closing (rising) or opening, as a logical level. */
    edge(offset: number, rising: boolean) {
      levels.set(offset, rising);
      seqno++;
      const id = rising ? LineEventId.RISING_EDGE : LineEventId.FALLING_EDGE;
      libc.writeAll(w, encodeLineEvents([{ timestampNs: BigInt(seqno), id, offset, seqno, lineSeqno: seqno }]));
    },
    close() {
      for (const reader of readers) reader.stop();
      libc.close(r);
      libc.close(w);
    },
  };
}

/** Busy-waits, never yielding to the event loop, until `done()` or `ms` pass: a main thread stuck in a long task. */
function spinUntil(done: () => boolean, ms: number): boolean {
  const end = performance.now() + ms;
  while (performance.now() < end) if (done()) return true;
  return done();
}

let pair: PtyPair;
let host: SerialPort;
let device: SerialPort;
let board: SyntaBoard;
let received: ReceivedCommand[];
let client: SyntaClient;
let gpio: ReturnType<typeof pipeChip>;
let closers: (() => unknown)[];

beforeEach(async () => {
  closers = [];
  pair = await PtyPair.open();
  host = new SerialPort({ path: pair.a, baudRate: 9600, reopenMs: 50, name: "mount serial port" });
  device = new SerialPort({ path: pair.b, baudRate: 9600, reopenMs: 50, name: "board serial port" });
  await Promise.all([host.whenConnected(5000), device.whenConnected(5000)]);
  board = new SyntaBoard({ slewRateDegS: 20, accelDegS2: 40 });
  board.attach(device);
  received = [];
  board.received.on((c) => received.push(c));
  client = new SyntaClient(host, { timeoutMs: 1000, retries: 2 });
  gpio = pipeChip();
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  gpio.close();
  client.close();
  board.close();
  await Promise.all([host.close(), device.close()]);
  await pair.close();
});

/** The board's channel-1 commands from `from` on that start motion (`J`), each with the direction the `G` before it
 * set ("1" = backward). */
function starts(from: number): { at: number; backward: boolean | null }[] {
  let backward: boolean | null = null;
  const out: { at: number; backward: boolean | null }[] = [];
  received.forEach((c, i) => {
    if (c.axis !== "1") return;
    if (c.cmd === "G") backward = c.data[1] !== "0";
    if (c.cmd === "J" && i >= from) out.push({ at: i, backward });
  });
  return out;
}

describe.each([false, true])("a goto under way when the switch trips (axis reversed: %p)", (reverse) => {
  test("no motion start into the switch reaches the board after the reflex's stop; the move fails with a limit error; motion away works", async () => {
    const ra = new SyntaAxis(client, { name: "ra", channel: "1", home_deg: 0, min: -180, max: 180, reverse, slewRateDegS: 20, reinitMs: 100 });
    closers.push(() => ra.close());
    const dec = new SimMountAxis("dec", { position: 0, min: -90, max: 90, speed: 20, accel: 200 });
    await ra.init();
    const guard = new LimitGuard([{ chip: gpio.chip, switches: [WEST] }], { ra, dec }, silentLog);
    closers.push(() => guard.release());
    // Positive (the switch's way) is forward on the board unless the axis is reversed.
    const intoBackward = reverse;

    // The goto's brake point `M` is the last command before its `J`. When its reply reaches the driver, the switch
    // trips and this thread stays busy until the reader thread has put its stop on the line: the driver's `J` then
    // follows the stop, and the edge reaches the limit guard only after that.
    let armed = false;
    let tripAt = -1;
    const offBoard = board.received.on((c) => {
      if (c.cmd === "M" && c.axis === "1" && tripAt < 0) armed = true;
    });
    const offHost = host.data.on(() => {
      if (!armed) return;
      armed = false;
      tripAt = received.length;
      const stops = host.wire.oobWrites();
      gpio.edge(WEST.line, true);
      expect(spinUntil(() => host.wire.oobWrites() > stops, 2000)).toBe(true);
    });
    const move = ra.status().position + 60;
    const outcome = guard.ra.moveTo(move);
    await expect(outcome).rejects.toMatchObject({ kind: "limit", details: { axis: "ra", limit: "positive", switch: "ra-west" } });
    offBoard();
    offHost();
    expect(tripAt).toBeGreaterThan(0);

    // The edge reaches the guard on this thread: it confirms the stop and refuses motion that way itself.
    await until(ra.changed, () => guard.ra.limit() === "positive", 5000, "the trip on the main thread");
    expect(guard.states()).toMatchObject([{ name: "ra-west", state: "tripped", tripped: true }]);
    await until(board.received, () => received.filter((c, i) => i >= tripAt && c.cmd === "L" && c.axis === "1").length >= 2, 5000, "the confirming stop");
    expect(board.moving(1)).toBe(false);
    await expect(guard.ra.moveTo(ra.status().position + 1)).rejects.toMatchObject({ kind: "limit" });

    // Backing off: a `G` the other way, then its `J`, accepted by the line while the switch is still closed.
    const away = await guard.ra.moveTo(ra.status().position - 2);
    expect(away).toEqual({ arrived: true });
    const firstStop = received.findIndex((c, i) => i >= tripAt && c.cmd === "L" && c.axis === "1");
    expect(firstStop).toBeGreaterThanOrEqual(tripAt);
    const after = starts(firstStop);
    expect(after.length).toBeGreaterThan(0);
    // Every start after the reflex's stop moved away from the switch.
    for (const s of after) expect(s.backward).toBe(!intoBackward);

    // Released: motion that way is accepted again, by the guard and by the line.
    gpio.edge(WEST.line, false);
    await until(ra.changed, () => guard.ra.limit() === null, 5000, "the release");
    expect(guard.states()).toMatchObject([{ name: "ra-west", state: "clear", tripped: false }]);
    expect(await guard.ra.moveTo(ra.status().position + 1)).toEqual({ arrived: true });
    expect(starts(firstStop).at(-1)?.backward).toBe(intoBackward);
  });
});
