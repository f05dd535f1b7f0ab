import type { Positioner } from "./motion";

/** A focuser: positions in microns of travel from the inward end; the driver converts to its steps. */
export interface Focuser extends Positioner {
  readonly range: { min: number; max: number };
  /** Smallest position increment in microns (one motor step). */
  readonly stepSize: number;
  /** Temperature at the focuser, when the device reports one. */
  temperature(): number | null;
}
