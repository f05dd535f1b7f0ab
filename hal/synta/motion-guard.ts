// Which Synta commands start motion, on which channel and which way: the rule the serial line applies (serial/wire.ts),
// under its lock, once a limit switch's latch has tripped. A goto or slew the main thread has under way when the
// reflex thread stops the motor must not start it again into the switch before the main thread hears of the trip.
import { DeviceError } from "../errors";
import type { WireGuard } from "../serial/wire";

/** The latch key of a board channel moving one way ("forward" = the step count increasing, `G` direction 0). */
export function latchKey(channel: "1" | "2", backward: boolean): number {
  return (channel === "1" ? 0 : 2) + (backward ? 1 : 0);
}

/** How refusals name a channel: the axis on it and whether its angle grows against the step count. */
export interface GuardedAxis {
  name: string;
  device: string;
  reverse: boolean;
}

/** `J` starts the motor; `H`/`S` (goto target), `M`/`U` (brake point) and `I` (step period: a rate change while
 * slewing) set up or alter motion. All of them move the way the channel's last `G` set, which `G` itself carries in
 * its second digit. */
const MOVES_THE_SET_WAY = new Set(["J", "H", "S", "M", "U", "I"]);
const COLON = 0x3a;
const CR = 0x0d;

/** The guard one Synta line's writes pass through. It remembers the direction each admitted `G` set, so a `J`
 * refused is exactly one that would move into a tripped limit; a direction not known (nothing admitted since the
 * link came up) counts as both ways. Stops (`K`, `L`) and queries always pass: that is how the axis is stopped and
 * then backed off (a `G` the other way, then its `J`). */
export class SyntaMotionGuard {
  private readonly backward = new Map<string, boolean>();
  private readonly axes = new Map<string, GuardedAxis>();

  /** Names the axis on `channel` in refusals. */
  describe(channel: "1" | "2", axis: GuardedAxis): void {
    this.axes.set(channel, axis);
  }

  /** The board may have been reset or replaced (the link went down or came up): forget the directions it was set to. */
  reset(): void {
    this.backward.clear();
  }

  readonly admit: WireGuard = (bytes, tripped) => {
    let set: [string, boolean][] | null = null;
    for (const frame of frames(bytes)) {
      const cmd = frame[0];
      const channels = frame[1] === "3" ? ["1", "2"] : [frame[1]!];
      for (const ch of channels) {
        if (ch !== "1" && ch !== "2") continue;
        let ways: boolean[];
        if (cmd === "G" && frame.length >= 4) {
          const backward = frame[3] !== "0";
          ways = [backward];
          (set ??= []).push([ch, backward]);
        } else if (cmd !== undefined && MOVES_THE_SET_WAY.has(cmd)) {
          const known = set?.findLast(([c]) => c === ch)?.[1] ?? this.backward.get(ch);
          ways = known === undefined ? [false, true] : [known];
        } else continue;
        for (const backward of ways) {
          const names = tripped(latchKey(ch, backward));
          if (names.length > 0) return this.refusal(ch, backward, names, `:${frame}`);
        }
      }
    }
    if (set) for (const [ch, backward] of set) this.backward.set(ch, backward);
    return null;
  };

  private refusal(ch: "1" | "2", backward: boolean, switches: readonly string[], frame: string): DeviceError {
    const axis = this.axes.get(ch);
    const grows = !backward !== (axis?.reverse ?? false);
    const direction = grows ? "positive" : "negative";
    const who = axis ? `the ${axis.name} axis' ${direction}` : `motor channel ${ch}'s ${backward ? "backward" : "forward"}`;
    const named = switches.map((s) => `"${s}"`).join(", ");
    return new DeviceError(
      "limit",
      axis?.device ?? `mount motor channel ${ch}`,
      `${who} limit switch ${named} has tripped (or cannot be read): ${frame} was not sent; motion further ${direction} is refused (move the other way to back off it)`,
      { axis: axis?.name ?? null, limit: direction, switch: switches[0], command: frame },
    );
  }
}

/** The command lines (without `:` and `\r`) in a write: one, from the Synta client. */
function frames(bytes: Uint8Array): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === COLON) start = i + 1;
    else if (b === CR && start >= 0) {
      out.push(String.fromCharCode(...bytes.subarray(start, i)));
      start = -1;
    }
  }
  return out;
}
