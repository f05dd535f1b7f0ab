import type { HalLog } from "../log";
import type { ByteDuplex } from "./duplex";
import { pipePair } from "./pipe";
import { SerialPort } from "./port";

export interface LinkConfig {
  port?: string;
  baud: number;
  data_bits: 5 | 6 | 7 | 8;
  parity: "none" | "even" | "odd";
  stop_bits: 1 | 2;
  reopen_ms: number;
}

/** The driver's end of a device link: the serial port at `config.port`, or else an in-memory pipe whose other end
 * is handed to `simulate` (the device simulator), so the driver runs the same protocol code either way. */
export function openLink(name: string, config: LinkConfig, log: HalLog, simulate: (deviceEnd: ByteDuplex) => void): ByteDuplex {
  if (config.port) {
    return new SerialPort({
      path: config.port,
      baudRate: config.baud,
      dataBits: config.data_bits,
      parity: config.parity,
      stopBits: config.stop_bits,
      reopenMs: config.reopen_ms,
      name: `${name} serial port`,
      log,
    });
  }
  const [driverEnd, deviceEnd] = pipePair([`${name} link`, `simulated ${name}`]);
  simulate(deviceEnd);
  return driverEnd;
}
