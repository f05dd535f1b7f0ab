/** Why a device refused or failed an operation. The SkyNode maps the kind to the protocol's error code:
 * `limit` and `disconnected` are states of the telescope (conflict), `range` is a bad request (invalid), `fault`
 * is the device misbehaving (internal). */
export type DeviceErrorKind = "disconnected" | "limit" | "range" | "fault";

export class DeviceError extends Error {
  constructor(
    readonly kind: DeviceErrorKind,
    /** The device (and axis) concerned, e.g. "mount ra axis", "focuser". */
    readonly device: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "DeviceError";
  }
}
