import type { SharedWire, WireLatch } from "../serial/wire";
import type { Signal } from "../signal";

/** A GPIO controller (DESIGN.md §4): the Linux character device (uAPI v2) or a simulated chip. Line values are
 * logical: with `activeLow` a low pin reads `true` (for a limit switch: true = tripped). */
export interface GpioChip {
  readonly info: { name: string; label: string; lines: number };
  requestInputs(request: InputRequest): GpioInputs;
  requestOutputs(request: OutputRequest): GpioOutputs;
  close(): void;
}

export type Bias = "pull-up" | "pull-down" | "disabled" | "as-is";
export type Edge = "rising" | "falling" | "both" | "none";

export interface InputRequest {
  /** Who holds the lines (shown by `gpioinfo`). */
  consumer: string;
  lines: { offset: number; activeLow?: boolean; bias?: Bias; edge?: Edge; debounceUs?: number }[];
  /** Commands the chip's reader thread writes itself on a line's rising (logical true) edge, before the edge
   * reaches the main thread: a limit switch's instant stop that does not wait for the event loop. A simulated chip
   * delivers edges synchronously on the main thread and ignores them. */
  reflexes?: Reflex[];
}

/** On `offset`'s rising edge, trip `latch` (if any) and write `bytes` on the serial line behind `wire`, both under
 * the line's lock. */
export interface Reflex {
  offset: number;
  wire: SharedWire;
  bytes: Uint8Array;
  latch?: WireLatch;
}

/** Whether a request's edges are being read. A reader thread that failed (an error, end of file, terminated) is
 * restarted with backoff; until it polls again its lines' edges are lost, and their owner must re-read the levels. */
export type EdgeHealth = { reading: true } | { reading: false; reason: string };

export interface OutputRequest {
  consumer: string;
  lines: { offset: number; activeLow?: boolean; drive?: "push-pull" | "open-drain" | "open-source"; initial: boolean }[];
}

/** An edge on a requested input line, after debounce. `rising` is the logical value becoming true. */
export interface LineEdge {
  offset: number;
  rising: boolean;
  /** Kernel timestamp (CLOCK_MONOTONIC ns) or the simulator's clock. */
  timestampNs: bigint;
  /** Sequence number over the request; a gap means the kernel dropped events (buffer overflow). */
  seqno: number;
}

export interface GpioInputs {
  /** Current logical values, in the order of the request's lines. */
  values(): boolean[];
  /** Each edge as soon as it is read from the device. */
  readonly edges: Signal<LineEdge>;
  /** Emits when edges stop or start being read again (a chip that reads on the main thread never fails). */
  readonly health: Signal<EdgeHealth>;
  release(): void;
}

export interface GpioOutputs {
  /** Sets a line (by chip offset) to a logical value. */
  set(offset: number, value: boolean): void;
  values(): boolean[];
  release(): void;
}
