import type { Handler, RunContext } from "../executor";
import { CommandFailure } from "../command-failure";
import type { Telescope } from "../telescope";
import { moveAndWait, requireInRange, round } from "./move";

/** Focuser (and the focus.* aliases), rotator and filter wheel. These devices refuse a second move while one is
 * in progress (`conflict`): a focus or rotation change mid-move is almost always a client mistake. Relative moves
 * count from where the device stands when the command starts (it is idle then, or the command is refused). */
export function positionerHandlers(t: Telescope) {
  const { focuser, rotator, filterWheel } = t.devices;

  const focusTo = async (goal: number, ctx: RunContext) => {
    const from = focuser.status().position;
    await moveAndWait(focuser, Math.round(goal / focuser.stepSize) * focuser.stepSize, ctx, "focuser");
    const position_um = focuser.status().position;
    return { position_um, previous_position_um: from, moved_um: round(position_um - from) };
  };
  const absolute = (): Handler<"focuser.move_absolute"> => ({
    devices: () => ["focuser"],
    validate: (c) => requireInRange(c.position_um, focuser.range, "focuser position", "µm"),
    run: (c, ctx) => focusTo(c.position_um, ctx),
  });
  const relative = (): Handler<"focuser.move_relative"> => ({
    devices: () => ["focuser"],
    validate: (c) => requireInRange(focuser.status().position + c.delta_um, focuser.range, "focuser position", "µm"),
    run: (c, ctx) => focusTo(focuser.status().position + c.delta_um, ctx),
  });

  const rotate = async (goal: number, ctx: RunContext) => {
    const from = rotator.status().position;
    await moveAndWait(rotator, goal, ctx, "rotator");
    return { angle_deg: round(rotator.status().position), previous_angle_deg: round(from) };
  };

  return {
    "focuser.move_absolute": absolute(),
    "focuser.move_relative": relative(),
    // The focus.* aliases carry the same payloads as the focuser moves (commands.ts): only the type tag differs.
    "focus.move_absolute": absolute() as unknown as Handler<"focus.move_absolute">,
    "focus.move_relative": relative() as unknown as Handler<"focus.move_relative">,
    "rotator.move_absolute": {
      devices: () => ["rotator"],
      validate: (c) => requireInRange(c.angle_deg, rotator.range, "rotator angle", "°"),
      run: (c, ctx) => rotate(c.angle_deg, ctx),
    } satisfies Handler<"rotator.move_absolute">,
    "rotator.move_relative": {
      devices: () => ["rotator"],
      validate: (c) => requireInRange(rotator.status().position + c.delta_deg, rotator.range, "rotator angle", "°"),
      run: (c, ctx) => rotate(rotator.status().position + c.delta_deg, ctx),
    } satisfies Handler<"rotator.move_relative">,
    "filter_wheel.set_option": {
      devices: () => ["filter_wheel"],
      validate: (c) => void requireFilter(t, c.filter_wheel_position_id),
      async run(c, ctx) {
        const f = requireFilter(t, c.filter_wheel_position_id);
        await moveAndWait(filterWheel, f.slot, ctx, "filter wheel");
        return { filter_id: f.id, slot: f.slot };
      },
    } satisfies Handler<"filter_wheel.set_option">,
  };
}

export function requireFilter(t: Telescope, id: string) {
  const f = t.filter(id);
  if (!f) throw new CommandFailure("invalid", `no filter "${id}": this wheel holds ${t.filterIds().join(", ")}`, { filters: t.filterIds() });
  return f;
}
