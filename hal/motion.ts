import type { Signal } from "./signal";

/** What every moving device reports: the fields the SkyNode's snapshots and executors rely on. */
export interface MotionStatus {
  /** Where the device is now, in its unit (degrees, microns, slot number). */
  position: number;
  /** Where the current move is going, or null when idle or moving at a constant rate. */
  target: number | null;
  /** idle: still; moving: going to `target`; tracking: turning at `rate` until stopped; stopping: decelerating. */
  state: "idle" | "moving" | "tracking" | "stopping";
  /** Current speed in units per second (signed). */
  rate: number;
}

/** How a move ended: arrived, or stopped before arriving (stop requested, superseded, limit, fault). */
export type MoveOutcome = { arrived: true } | { arrived: false; reason: string };

/** A single-axis positioner: the common shape of mount axes, focusers and rotators. */
export interface Positioner {
  status(): MotionStatus;
  /** Moves to `position`; resolves when it gets there or the move is interrupted. A new move supersedes one in
   * progress (the earlier promise resolves `arrived: false`). Rejects with a DeviceError when the move is refused:
   * at once for what checkMove would refuse, or later if the device refuses to start it (a mount axis whose serial
   * line will not start motion into a limit switch that has just tripped). */
  moveTo(position: number): Promise<MoveOutcome>;
  /** Decelerates to a stop; resolves once the device is really still. */
  stop(reason?: string): Promise<void>;
  /** False while the device cannot be reached (cable unplugged, no reply); its status is then the last known one
   * and moves are refused with a DeviceError of kind "disconnected". */
  connected(): boolean;
  /** Emits on any change of status or connection. */
  readonly changed: Signal<void>;
}
