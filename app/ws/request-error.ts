import type { ErrorCode } from "../protocol";

/** An error a handler raises to answer the request with `error` `code` instead of `internal`. */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: object,
  ) {
    super(message);
  }
}
