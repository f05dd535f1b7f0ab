/** Why a write to the data dir failed, when the cause is the storage rather than the write itself: another process
 * holds the lock ("busy"), the disk is full ("full"), or the device fails ("io"). These pass (the lock is released,
 * space is freed, a flaky card answers again), so such a write is kept and retried; anything else (a constraint
 * violation, a bug) would fail the same way forever. */
export type StorageFaultKind = "busy" | "full" | "io";

export interface StorageFault {
  kind: StorageFaultKind;
  /** SQLite's or the OS's code (SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR_WRITE, ENOSPC, EIO, …). */
  code: string;
  message: string;
}

const SQLITE: [prefix: string, kind: StorageFaultKind][] = [
  ["SQLITE_BUSY", "busy"],
  ["SQLITE_LOCKED", "busy"],
  ["SQLITE_FULL", "full"],
  ["SQLITE_IOERR", "io"],
  // A card the kernel remounted read-only after I/O errors, or a database file that vanished under us.
  ["SQLITE_READONLY", "io"],
  ["SQLITE_CANTOPEN", "io"],
  ["SQLITE_PROTOCOL", "busy"],
];
const ERRNO: Record<string, StorageFaultKind> = { ENOSPC: "full", EDQUOT: "full", EIO: "io", EROFS: "io", EBUSY: "busy", EAGAIN: "busy" };

export function storageFault(err: unknown): StorageFault | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  const message = (err as Error).message ?? String(err);
  const kind = code.startsWith("SQLITE_") ? SQLITE.find(([p]) => code.startsWith(p))?.[1] : ERRNO[code];
  return kind ? { kind, code, message } : null;
}

/** One line naming an error, its code first when it has one. */
export function describeError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === "string" && !message.startsWith(code) ? `${code}: ${message}` : message;
}
