import type { Signal } from "./signal";

export interface CameraInfo {
  width: number;
  height: number;
  pixel_um: number;
  binnings: number[];
  /** Electrons per ADU and bias level of the raw frame. */
  gain_e_per_adu: number;
  bias_adu: number;
}

export interface CameraStatus {
  state: "idle" | "exposing" | "reading" | "aborting";
  /** Exposure in progress: when it started and for how long. */
  started_at: number | null;
  duration_s: number | null;
  binning: number | null;
  temperature_c: number;
}

export interface Frame {
  width: number;
  height: number;
  binning: number;
  /** Row-major, x fastest, 16-bit unsigned ADU. */
  pixels: Uint16Array;
  /** Shutter open time (ms since the epoch) and exposure length. */
  started_at: number;
  duration_s: number;
  temperature_c: number;
}

export type ExposureOutcome = { frame: Frame } | { aborted: string };

export interface Camera {
  readonly info: CameraInfo;
  status(): CameraStatus;
  /** Exposes and reads out; resolves with the frame, or `aborted` if `abort` was called first. One at a time. */
  expose(duration_s: number, binning: number): Promise<ExposureOutcome>;
  /** Closes the shutter and discards the frame; resolves when the camera is idle again. */
  abort(reason?: string): Promise<void>;
  readonly changed: Signal<void>;
}
