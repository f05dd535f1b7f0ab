// A second writer on the motor controller's line: an instant stop written out of band (as the GPIO reader thread's
// limit reflex does) between the driver's own commands, over a real pty. Replies carry no ids, so the client must
// account for the stop's reply wherever it falls on the line, or every later reply would be matched one off.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeSync } from "node:fs";
import { SerialPort } from "../../../hal/serial/port";
import { writeOutOfBand } from "../../../hal/serial/wire";
import { SyntaBoard } from "../../../hal/sim/synta-board";
import { SyntaClient } from "../../../hal/synta/client";
import { encodeCommand } from "../../../hal/synta/codec";
import { PtyPair } from "../../helpers/pty";
import { recordingLog } from "./rig";

let pair: PtyPair;
let host: SerialPort;
let device: SerialPort;
let board: SyntaBoard;
let client: SyntaClient;
const log = recordingLog();
const received: string[] = [];

beforeAll(async () => {
  pair = await PtyPair.open();
  host = new SerialPort({ path: pair.a, baudRate: 9600, name: "mount serial port" });
  device = new SerialPort({ path: pair.b, baudRate: 9600, name: "board serial port" });
  await Promise.all([host.whenConnected(5000), device.whenConnected(5000)]);
  board = new SyntaBoard({ slewRateDegS: 10, accelDegS2: 20 });
  board.attach(device);
  board.received.on((c) => received.push(c.cmd + c.axis));
  client = new SyntaClient(host, { timeoutMs: 500, retries: 2, log });
  await client.request("F", "3");
});

afterAll(async () => {
  client?.close();
  board?.close();
  await Promise.all([host?.close(), device?.close()]);
  await pair?.close();
});

/** The instant stop on axis 1 written the way the reflex thread writes it (here from this thread). */
const stopOutOfBand = () => expect(writeOutOfBand(host.wire.buffer, encodeCommand("L", "1"), (fd, b) => writeSync(fd, b) === b.length)).toBe(true);

describe("an out-of-band stop on the driver's line", () => {
  test("before a command: the command still gets its own reply", async () => {
    received.length = 0;
    stopOutOfBand();
    expect(await client.request("j", "1")).toMatch(/^[0-9A-F]{6}$/);
    expect(received).toEqual(["L1", "j1"]);
  });

  test("while a command awaits its reply: both replies are placed right", async () => {
    received.length = 0;
    const position = client.request("j", "1"); // on the line at once: nothing else is in flight
    stopOutOfBand();
    expect(await position).toMatch(/^[0-9A-F]{6}$/);
    expect(await client.request("f", "1")).toMatch(/^[0-9A-F]{3}$/);
    expect(received).toEqual(["j1", "L1", "f1"]);
  });

  test("hundreds of stops interleaved at random with queries and urgent commands: every reply matches", async () => {
    const before = log.lines.length;
    const pending: Promise<string>[] = [];
    const shapes: RegExp[] = [];
    for (let i = 0; i < 300; i++) {
      const r = Math.random();
      if (r < 0.3) stopOutOfBand();
      else if (r < 0.4) {
        pending.push(client.urgent("L", "2"));
        shapes.push(/^$/);
      } else if (r < 0.7) {
        pending.push(client.request("j", "1"));
        shapes.push(/^[0-9A-F]{6}$/);
      } else {
        pending.push(client.request("f", "2"));
        shapes.push(/^[0-9A-F]{3}$/);
      }
      if (i % 17 === 0) await Bun.sleep(0); // let some replies in between
    }
    const replies = await Promise.all(pending);
    replies.forEach((reply, i) => expect(reply).toMatch(shapes[i]!));
    expect(log.lines.slice(before)).toEqual([]);
  });
});
