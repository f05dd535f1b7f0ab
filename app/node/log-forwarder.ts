import { Writable } from "node:stream";
import type { LogEntry } from "../protocol";

const LEVELS: Record<number, LogEntry["level"]> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/** A pino destination that turns the SkyNode's log lines into `telescope_log` entries. Lines are dropped (not
 * queued) while the hub is unreachable: the local log on stderr keeps them all. */
export function logForwarder(send: (entry: LogEntry) => void): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      try {
        const { time, level, msg, pid: _p, hostname: _h, app: _a, ...rest } = JSON.parse(String(chunk));
        send({ ...rest, ts: new Date(time).toISOString(), level: LEVELS[level] ?? "info", msg: String(msg ?? "") });
      } catch {
        // Not a JSON line: nothing to forward.
      }
      done();
    },
  });
}
