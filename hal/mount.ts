import type { MoveOutcome, Positioner } from "./motion";
import type { SharedWire } from "./serial/wire";

/** One mount axis (DESIGN.md §4). For an equatorial mount axis "ra" turns in hour angle (degrees, + = west) and
 * "dec" in declination; positions are the axis' own angle, not a sky coordinate of any epoch. */
export interface MountAxis extends Positioner {
  readonly name: "ra" | "dec" | "az" | "alt";
  /** Turns at a constant rate (deg/s) until stopped or given a move: tracking and guiding. */
  track(rate_deg_s: number): void;
  /** Stops at once, without decelerating (a limit switch tripped): the stop command is handed to the device
   * before this returns. A move in progress resolves `arrived: false` with `reason`. */
  halt(reason: string): void;
  /** The instant stop as bytes for another thread to write on the axis' serial line (a limit reflex, see
   * gpio/chip.ts), or null when the axis is not behind a serial line. */
  stopReflex?(): { wire: SharedWire; bytes: Uint8Array } | null;
  /** Throws the DeviceError a move to `position` would be refused with now (disconnected, out of range, into a
   * tripped limit), so a caller moving several axes can refuse before any of them starts. */
  checkMove(position: number): void;
  /** Set when a limit input of this axis is tripped: motion that way is refused until it clears. */
  limit(): "positive" | "negative" | null;
  /** Axis limits in degrees; moves outside are refused by the driver. */
  readonly range: { min: number; max: number };
  readonly slewRate: number;
}

export interface Mount {
  readonly type: "equatorial";
  readonly ra: MountAxis;
  readonly dec: MountAxis;
}

export type { MoveOutcome };
