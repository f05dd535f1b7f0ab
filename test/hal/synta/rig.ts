// Shared by the Synta driver tests: a simulated board and the driver on the two ends of a byte link, and a way to
// await a condition on a signal with a time limit.
import type { HalLog } from "../../../hal/log";
import { SyntaBoard, type ReceivedCommand, type SyntaBoardOptions } from "../../../hal/sim/synta-board";
import type { ByteDuplex } from "../../../hal/serial/duplex";
import { SyntaAxis, type SyntaAxisOptions } from "../../../hal/synta/axis";
import { SyntaClient } from "../../../hal/synta/client";

export const SIDEREAL_DEG_S = 360 / 86164.0989;

/** Anything that announces events (a Signal of any payload). */
type Emitter = { on(listener: () => void): () => void };

/** Resolves once `ready()` holds, re-checked at every emission of the signals; rejects after `ms`. */
export function until(signals: Emitter | Emitter[], ready: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const list = Array.isArray(signals) ? signals : [signals];
  return new Promise((resolve, reject) => {
    const offs: (() => void)[] = [];
    const finish = (err?: Error) => {
      clearTimeout(guard);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve();
    };
    const guard = setTimeout(() => finish(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    const check = () => {
      if (ready()) finish();
    };
    for (const s of list) offs.push(s.on(check));
    check();
  });
}

/** Records the commands the board receives; `motion()` lists those that are not status polls. */
export function recorder(board: SyntaBoard) {
  const all: ReceivedCommand[] = [];
  board.received.on((c) => all.push(c));
  return {
    all,
    mark: () => all.length,
    since: (mark: number) => all.slice(mark),
    motion: (mark = 0) => all.slice(mark).filter((c) => c.cmd !== "f" && c.cmd !== "j").map((c) => c.cmd + c.data),
    /** Resolves when a command matching `cmd` (and axis) arrives after `mark`. */
    next: (cmd: string, axis = "1", mark = all.length, ms = 5000) =>
      until(board.received, () => all.slice(mark).some((c) => c.cmd === cmd && c.axis === axis), ms, `:${cmd}${axis} on the wire`).then(
        () => all.slice(mark).find((c) => c.cmd === cmd && c.axis === axis)!,
      ),
  };
}

export function recordingLog(): HalLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (_f, m) => lines.push(`info ${m}`),
    warn: (_f, m) => lines.push(`warn ${m}`),
    error: (_f, m) => lines.push(`error ${m}`),
  };
}

export interface AxisRigOptions {
  board?: Partial<SyntaBoardOptions>;
  axis?: Partial<SyntaAxisOptions>;
  timeoutMs?: number;
  retries?: number;
}

/** A board attached to `boardEnd` and an RA axis driver (channel 1) on `driverEnd`. */
export function axisRig(driverEnd: ByteDuplex, boardEnd: ByteDuplex, opts: AxisRigOptions = {}) {
  const board = new SyntaBoard({ slewRateDegS: 20, accelDegS2: 40, ...opts.board });
  board.attach(boardEnd);
  const log = recordingLog();
  const client = new SyntaClient(driverEnd, { timeoutMs: opts.timeoutMs ?? 300, retries: opts.retries ?? 2, log });
  const axis = new SyntaAxis(client, {
    name: "ra",
    channel: "1",
    home_deg: 0,
    min: -180,
    max: 180,
    slewRateDegS: 20,
    reinitMs: 100,
    log,
    ...opts.axis,
  });
  const rec = recorder(board);
  const close = () => {
    axis.close();
    client.close();
    board.close();
  };
  return { board, client, axis, rec, log, close };
}
