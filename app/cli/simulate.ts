import { existsSync } from "node:fs";
import pino from "pino";
import { SerialPort } from "../../hal/serial/port";
import { MoonliteDevice } from "../../hal/sim/moonlite-device";
import { SyntaBoard } from "../../hal/sim/synta-board";
import type { ByteDuplex } from "../../hal/serial/duplex";

export interface SimulateOptions {
  /** Where the appliance's config points `mount.port` / `focuser.port`. */
  mount?: string;
  focuser?: string;
  baud: number;
  slewRateDegS: number;
  accelDegS2: number;
  focuserStartStep: number;
  focuserStepsPerS: number;
  /** Print every command the motor board receives, as a JSON line with its wall-clock arrival time in ms. */
  trace?: boolean;
}

/** Development tool: serves the Synta motor board and the Moonlite focuser simulators on pseudo-terminals, so the
 * appliance drives them through its serial ports exactly as it drives real devices. socat makes each pty pair:
 * the appliance opens `PATH`, the simulator opens `PATH.device`. Runs until SIGINT/SIGTERM. */
export async function simulate(opts: SimulateOptions): Promise<void> {
  // Logs on stderr: stdout carries the ready line and the trace.
  const log = pino({ level: "info" }, pino.destination(2));
  if (!Bun.which("socat")) throw new Error("simulate needs socat (install with: sudo apt-get install -y socat)");
  const procs: ReturnType<typeof Bun.spawn>[] = [];
  const ports: ByteDuplex[] = [];
  const serve = async (path: string, attach: (link: ByteDuplex) => void, what: string) => {
    const device = `${path}.device`;
    const proc = Bun.spawn(["socat", `pty,raw,echo=0,link=${path}`, `pty,raw,echo=0,link=${device}`], { stdin: "ignore", stdout: "ignore", stderr: "inherit" });
    procs.push(proc);
    // socat makes the links once both ptys exist; wait for them (bounded) rather than a fixed sleep.
    for (let i = 0; !(existsSync(path) && existsSync(device)); i++) {
      if (i > 500 || proc.exitCode !== null) throw new Error(`socat did not create ${path}`);
      await Bun.sleep(10);
    }
    const port = new SerialPort({ path: device, baudRate: opts.baud, name: `simulated ${what}`, log });
    await port.whenConnected(5000);
    attach(port);
    ports.push(port);
    log.info({ path, baud: opts.baud }, `simulated ${what} ready: point the appliance's port at ${path}`);
  };
  if (opts.mount) {
    const board = new SyntaBoard({ slewRateDegS: opts.slewRateDegS, accelDegS2: opts.accelDegS2 });
    // Arrival times on the wall clock (ms, sub-ms resolution), comparable with other processes' on this machine.
    if (opts.trace) board.received.on((c) => console.log(JSON.stringify({ t: performance.timeOrigin + c.at, device: "mount", cmd: c.cmd, axis: c.axis, data: c.data })));
    await serve(opts.mount, (link) => board.attach(link), "Synta motor board");
  }
  if (opts.focuser) {
    const focuser = new MoonliteDevice({ position: opts.focuserStartStep, stepsPerS: opts.focuserStepsPerS });
    await serve(opts.focuser, (link) => focuser.attach(link), "Moonlite focuser");
  }
  if (!opts.mount && !opts.focuser) throw new Error("simulate needs --mount PATH and/or --focuser PATH");
  console.log("simulators ready");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  for (const p of ports) await p.close();
  for (const p of procs) p.kill();
}
