import { SerialPort } from "../../hal/serial/port";
import { SyntaBoard, type ReceivedCommand } from "../../hal/sim/synta-board";
import { PtyPair } from "./pty";

/** A Synta motor board simulator at the far end of a real pty pair, in this process: the mount's driver opens
 * `pair.a`; the board's end reopens by itself when the pty comes back (a cable pulled and replugged). Every command
 * the board receives is kept in `received`, in order. */
export async function boardOnPty(speed = { slewRateDegS: 30, accelDegS2: 60 }) {
  const pair = await PtyPair.open();
  const port = new SerialPort({ path: pair.b, baudRate: 115200, reopenMs: 50, name: "board serial port" });
  await port.whenConnected(5000);
  const board = new SyntaBoard(speed);
  board.attach(port);
  const received: ReceivedCommand[] = [];
  board.received.on((c) => received.push(c));
  return {
    pair,
    board,
    received,
    async close() {
      board.close();
      await port.close();
      await pair.close();
    },
  };
}
