import type { ErrorCode } from "../protocol";

/** Why a direct request failed, as the `direct_error` that answers it: `code` from the protocol's enum. */
export class DirectFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
