import type { Positioner } from "../../../hal/motion";
import { CommandFailure, Interrupted } from "../command-failure";
import type { RunContext } from "../executor";

/** Moves a positioner and waits for it; a stop (cancel, supersede, fault) surfaces as Interrupted. */
export async function moveAndWait(device: Positioner, position: number, ctx: RunContext, what: string): Promise<void> {
  ctx.onStop(what, () => device.stop(ctx.signal.reason ?? "canceled"));
  ctx.check();
  const outcome = await device.moveTo(position);
  if (!outcome.arrived) throw new Interrupted(`${what} stopped: ${outcome.reason}`);
}

/** Refuses a goal outside the device's configured travel, naming the limits. */
export function requireInRange(value: number, range: { min: number; max: number }, what: string, unit: string): void {
  if (!(value >= range.min && value <= range.max)) {
    throw new CommandFailure("invalid", `${what} ${round(value)} ${unit} is outside the configured range ${range.min}..${range.max} ${unit}`, {
      value: round(value),
      min: range.min,
      max: range.max,
    });
  }
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
