// The limit reflex: the GPIO event-reader thread writes the instant stop on the mount's serial line itself, on the
// switch's rising edge, without the main thread. Over a real pipe standing in for the line request fd (records as
// the kernel returns them) and a real pty pair to the simulated motor board.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { LineEdge } from "../../../hal/gpio/chip";
import { EventReader } from "../../../hal/gpio/event-reader";
import * as libc from "../../../hal/gpio/libc";
import { encodeLineEvents, LineEventId } from "../../../hal/gpio/uapi";
import { SerialPort } from "../../../hal/serial/port";
import { SyntaBoard } from "../../../hal/sim/synta-board";
import { encodeCommand } from "../../../hal/synta/codec";
import { PtyPair } from "../../helpers/pty";

const LINE = 17;
let pair: PtyPair;
let host: SerialPort;
let device: SerialPort;
let board: SyntaBoard;
let reader: EventReader;
let pipe: [number, number];
let seqno = 0;
const stops: number[] = [];
let stopped: () => void = () => {};
/** Resolves when the board has received an instant stop (set up before the edge). */
const nextStop = () => new Promise<void>((resolve) => (stopped = resolve));

beforeEach(async () => {
  pair = await PtyPair.open();
  host = new SerialPort({ path: pair.a, baudRate: 9600, reopenMs: 50, name: "mount serial port" });
  device = new SerialPort({ path: pair.b, baudRate: 9600, reopenMs: 50, name: "board serial port" });
  await Promise.all([host.whenConnected(5000), device.whenConnected(5000)]);
  board = new SyntaBoard({ slewRateDegS: 10, accelDegS2: 20 });
  board.attach(device);
  stops.length = 0;
  board.received.on((c) => {
    if (c.cmd === "L") {
      stops.push(Number(c.axis));
      stopped();
    }
  });
  pipe = libc.pipe();
  reader = new EventReader(pipe[0], { name: "limit lines", reflexes: [{ offset: LINE, wire: host.wire.buffer, bytes: encodeCommand("L", "1") }] });
});

afterEach(async () => {
  reader.stop();
  libc.close(pipe[0]);
  libc.close(pipe[1]);
  board.close();
  await Promise.all([host.close(), device.close()]);
  await pair.close();
});

const edge = (offset: number, rising: boolean) =>
  libc.writeAll(pipe[1], encodeLineEvents([{ timestampNs: 1n, id: rising ? LineEventId.RISING_EDGE : LineEventId.FALLING_EDGE, offset, seqno: ++seqno, lineSeqno: seqno }]));

/** Resolves with the next edge the reader delivers to this thread. */
const nextEdge = () => new Promise<LineEdge>((resolve) => { const off = reader.edges.on((e) => { off(); resolve(e); }); });

/** Busy-waits, never yielding to the event loop, until `done()` or `ms` pass: what a main thread stuck in a long task
 * sees. */
function spinUntil(done: () => boolean, ms: number): boolean {
  const end = performance.now() + ms;
  while (performance.now() < end) if (done()) return true;
  return done();
}

describe("the limit reflex in the GPIO reader thread", () => {
  test("a rising edge puts the instant stop on the line while the main thread is busy; the edge follows", async () => {
    const delivered = nextEdge();
    const stop = nextStop();
    edge(LINE, true);
    // This thread does not yield: only the reader thread can have written the stop.
    expect(spinUntil(() => host.wire.oobWrites() === 1, 2000)).toBe(true);
    expect(host.wire.oobAfter(0)).toBe(host.wire.mainWrites());
    expect(await delivered).toMatchObject({ offset: LINE, rising: true });
    await stop;
    expect(stops).toEqual([1]);
  });

  test("a falling edge, or a rising edge on a line without a reflex, writes nothing", async () => {
    const two = new Promise<void>((resolve) => { let n = 0; reader.edges.on(() => { if (++n === 2) resolve(); }); });
    edge(LINE, false);
    edge(LINE + 1, true);
    await two;
    expect(host.wire.oobWrites()).toBe(0);
  });

  test("with the port closed the reflex writes nothing; once it reopens, it stops the motor again", async () => {
    const gone = new Promise<void>((resolve) => { const off = host.connection.on((up) => { if (!up) { off(); resolve(); } }); });
    await pair.stop(); // the cable pulled
    await gone;
    let delivered = nextEdge();
    edge(LINE, true);
    await delivered;
    expect(host.wire.oobWrites()).toBe(0);
    await pair.restart();
    await Promise.all([host.whenConnected(5000), device.whenConnected(5000)]);
    delivered = nextEdge();
    const stop = nextStop();
    edge(LINE, true);
    expect(spinUntil(() => host.wire.oobWrites() === 1, 2000)).toBe(true);
    await delivered;
    await stop;
    expect(stops).toEqual([1]);
  });
});
