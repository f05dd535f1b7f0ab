import type { Signal } from "../signal";
import type { SharedWire } from "./wire";

/** A byte stream to (or from) a device: a serial port, a pseudo-terminal, or an in-memory pipe to a simulator.
 * Drivers and device simulators are written against this alone, so the same protocol code runs on all three. */
export interface ByteDuplex {
  /** False while the device is gone (USB unplugged, pty closed); a serial port keeps trying to reopen. */
  readonly connected: boolean;
  /** Emits the new `connected` value whenever it changes. */
  readonly connection: Signal<boolean>;
  /** Each chunk of bytes as it arrives (chunk boundaries are arbitrary: a frame may span chunks). */
  readonly data: Signal<Uint8Array>;
  /** Hands the bytes to the OS (or the pipe) before returning, so an urgent command is on its way at once.
   * Throws a DeviceError of kind "disconnected" when not connected. */
  write(bytes: Uint8Array): void;
  /** Drops input received but not yet read (stale replies after a timeout). */
  discardInput(): void;
  /** Closes for good (no reopening). */
  close(): Promise<void>;
  /** A real line's writes, shared with other threads that may write a reflex command on it (see wire.ts). */
  readonly wire?: SharedWire;
}
