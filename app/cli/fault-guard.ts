import type { Logger } from "pino";

export interface FaultGuardOptions {
  /** The server's logger once it has one. */
  log: () => Logger;
  /** Puts the hardware in a safe state (instant stops written synchronously; resolves once the devices confirmed). */
  safeState: (reason: string) => Promise<void>;
  /** Ends the process (systemd restarts it; the restart reports the interrupted command). */
  exit: (code: number) => void;
  /** This many faults within `windowMs` is a storm: the process is not working, whatever each one was. */
  maxFaults?: number;
  windowMs?: number;
}

/** EX_SOFTWARE: an internal error made the process give up. */
export const FAULT_EXIT_CODE = 70;

/** Errors after which the process cannot go on: out of memory, a database that is no longer a database. */
function fatal(err: unknown): string | null {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : "";
  const code = typeof e?.code === "string" ? e.code : "";
  if (/out of memory/i.test(message)) return "out of memory";
  if (["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CANTOPEN"].includes(code)) return `the database is unusable (${code})`;
  return null;
}

/** The process never dies silently (the hardening issue): an exception nobody caught or a rejection nobody handled
 * first puts the hardware in a safe state, then is logged with its stack; the process keeps serving when the fault
 * belonged to one request. A fatal error, or a storm of faults, exits non-zero after the safe stop. */
export function installFaultGuard(opts: FaultGuardOptions): () => void {
  const maxFaults = opts.maxFaults ?? 10;
  const windowMs = opts.windowMs ?? 60_000;
  const recent: number[] = [];
  let exiting = false;
  const onFault = (kind: "uncaught exception" | "unhandled rejection") => (err: unknown) => {
    const reason = `${kind}: ${err instanceof Error ? err.message : String(err)}`;
    const stopped = opts.safeState(reason).catch(() => {});
    const now = Date.now();
    recent.push(now);
    while (recent.length > 0 && recent[0]! < now - windowMs) recent.shift();
    const why = fatal(err) ?? (recent.length >= maxFaults ? `${recent.length} faults within ${windowMs / 1000} s` : null);
    const log = opts.log();
    try {
      log.error({ err, kind, faults_in_window: recent.length }, `${kind}: the hardware was put in a safe state${why ? "" : "; the server keeps running"}`);
    } catch {
      // Logging itself failed (a full disk): stderr must still say something.
      console.error(`${kind}:`, err);
    }
    if (!why || exiting) return;
    exiting = true;
    log.fatal({ why }, "the process cannot go on: exiting after the safe stop");
    // The devices get a bounded moment to confirm; the instant stops went out already.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, 3000).unref());
    Promise.race([stopped, deadline]).then(
      () => {
        log.flush();
        opts.exit(FAULT_EXIT_CODE);
      },
      () => opts.exit(FAULT_EXIT_CODE),
    );
  };
  const exception = onFault("uncaught exception");
  const rejection = onFault("unhandled rejection");
  process.on("uncaughtException", exception);
  process.on("unhandledRejection", rejection);
  return () => {
    process.off("uncaughtException", exception);
    process.off("unhandledRejection", rejection);
  };
}
