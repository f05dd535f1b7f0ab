import pino, { type Logger } from "pino";

/** Structured logs as JSON lines on stderr; stdout carries only the CLI's own output ("listening on …", tokens).
 * `tap` also receives every line (the /wss `server_logs` topic). */
export function createLogger(level = process.env.SKYNODE_LOG_LEVEL ?? "info", tap?: { write(line: string): void }): Logger {
  const dest = pino.destination({ fd: 2, sync: false });
  // A broken stderr (a closed pipe, a full disk behind a redirect) loses log lines, never the process.
  dest.on("error", () => {});
  if (!tap) return pino({ level, base: { app: "skynode" } }, dest);
  // A tee rather than pino.multistream: it keeps flush(), which shutdown needs to get the last lines out.
  const tee = {
    write(line: string) {
      dest.write(line);
      tap.write(line);
    },
    flush: (cb?: (err?: Error) => void) => dest.flush(cb),
    flushSync: () => dest.flushSync(),
  };
  return pino({ level, base: { app: "skynode" } }, tee);
}
