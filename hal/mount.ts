import type { MoveOutcome, Positioner } from "./motion";
import type { SharedWire, WireLatch } from "./serial/wire";

/** The way of travel a limit switch stops: the axis angle growing (positive) or shrinking. */
export type LimitDirection = "positive" | "negative";

/** A limit switch's reflex on an axis behind a serial line: the instant stop as bytes for another thread to write on
 * that line (see gpio/chip.ts), and the line's latch that, once tripped, refuses the line's motion starts further
 * `direction` until the main thread releases it. */
export interface LimitReflex {
  wire: SharedWire;
  bytes: Uint8Array;
  latch: WireLatch;
}

/** One mount axis (DESIGN.md §4). For an equatorial mount axis "ra" turns in hour angle (degrees, + = west) and
 * "dec" in declination; positions are the axis' own angle, not a sky coordinate of any epoch. */
export interface MountAxis extends Positioner {
  readonly name: "ra" | "dec" | "az" | "alt";
  /** Turns at a constant rate (deg/s) until stopped or given a move: tracking and guiding. */
  track(rate_deg_s: number): void;
  /** Stops at once, without decelerating (a limit switch tripped): the stop command is handed to the device
   * before this returns. A move in progress resolves `arrived: false` with `reason`. */
  halt(reason: string): void;
  /** The reflex for the limit switch `switchName` stopping motion towards `direction` (each call makes a new latch
   * on the line, named after the switch), or null when the axis is not behind a serial line. */
  stopReflex?(direction: LimitDirection, switchName: string): LimitReflex | null;
  /** Throws the DeviceError a move to `position` would be refused with now (disconnected, out of range, into a
   * tripped limit), so a caller moving several axes can refuse before any of them starts. */
  checkMove(position: number): void;
  /** Set when a limit input of this axis is tripped: motion that way is refused until it clears. */
  limit(): LimitDirection | null;
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
