import type { ErrorCode } from "../protocol";

/** A command that cannot be done: becomes an `error` result with this code and message. */
export class CommandFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Thrown by a handler whose device stopped before finishing; the executor turns it into `canceled` when the run
 * was canceled or superseded, and into an `error` otherwise (a fault or a limit stopped it). */
export class Interrupted extends Error {}
