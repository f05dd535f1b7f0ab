// The Synta motion guard on a serial line's wire: which writes a tripped limit latch refuses (motion starts and their
// set-up the way the latch blocks), which it never refuses (stops, queries, motion the other way), and how it learns
// the way a `J` moves from the `G` admitted before it. Through SharedWire.write, as the serial port calls it.
import { describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { SharedWire } from "../../../hal/serial/wire";
import { encodeCommand } from "../../../hal/synta/codec";
import { latchKey, SyntaMotionGuard } from "../../../hal/synta/motion-guard";

function line(reverse = false) {
  const wire = new SharedWire();
  const guard = new SyntaMotionGuard();
  guard.describe("1", { name: "ra", device: "mount ra axis", reverse });
  guard.describe("2", { name: "dec", device: "mount dec axis", reverse: false });
  wire.setGuard(guard.admit);
  const sent: string[] = [];
  /** Writes one command through the wire; returns the refusal, or null once it went out. */
  const write = (cmd: string, ch: string, data = ""): DeviceError | null => {
    const bytes = encodeCommand(cmd, ch, data);
    try {
      wire.write(() => sent.push(`${cmd}${ch}${data}`), true, bytes);
      return null;
    } catch (err) {
      if (err instanceof DeviceError) return err;
      throw err;
    }
  };
  return { wire, guard, sent, write };
}

describe("the Synta motion guard", () => {
  test("with nothing tripped everything goes out", () => {
    const { write, sent } = line();
    for (const [c, d] of [["G", "00"], ["I", "000006"], ["H", "100000"], ["M", "800C00"], ["J", ""], ["K", ""], ["L", ""], ["f", ""]] as const) {
      expect(write(c, "1", d)).toBeNull();
    }
    expect(sent).toHaveLength(8);
  });

  test("a tripped forward latch refuses G forward, and J/H/M/I after a G forward; the other way goes out", () => {
    const { wire, write, sent } = line();
    expect(write("G", "1", "00")).toBeNull(); // forward, admitted before the trip
    wire.latch(latchKey("1", false), "ra-west").trip();
    const before = wire.mainWrites();
    for (const [c, d] of [["I", "000006"], ["H", "100000"], ["M", "000C00"], ["J", ""], ["G", "00"], ["G", "30"]] as const) {
      const refusal = write(c, "1", d);
      expect(refusal).toMatchObject({ kind: "limit", device: "mount ra axis", details: { axis: "ra", limit: "positive", switch: "ra-west", command: `:${c}1${d}` } });
      expect(refusal!.message).toContain('the ra axis\' positive limit switch "ra-west" has tripped');
    }
    // Refused writes are neither written nor counted.
    expect(sent).toEqual(["G100"]);
    expect(wire.mainWrites()).toBe(before);
    // Stops and queries pass; so does backing off: a G backward, then its period, target and start.
    for (const [c, d] of [["K", ""], ["L", ""], ["j", ""], ["f", ""], ["G", "01"], ["I", "000006"], ["H", "001000"], ["M", "640000"], ["J", ""]] as const) {
      expect(write(c, "1", d)).toBeNull();
    }
    // The other channel is not concerned.
    expect(write("G", "2", "00")).toBeNull();
    expect(write("J", "2")).toBeNull();
  });

  test("after a reset (the link went down or up) the way a J moves is unknown: refused while either way is tripped", () => {
    const { wire, guard, write } = line();
    expect(write("G", "1", "01")).toBeNull();
    wire.latch(latchKey("1", false), "ra-west").trip();
    expect(write("J", "1")).toBeNull(); // backward: away from it
    guard.reset();
    expect(write("J", "1")).toMatchObject({ kind: "limit" });
    expect(write("I", "1", "000270")).toMatchObject({ kind: "limit" });
    expect(write("G", "1", "11")).toBeNull();
    expect(write("J", "1")).toBeNull();
  });

  test("J3 starts both channels: refused if either would move into a tripped latch", () => {
    const { wire, write } = line();
    expect(write("G", "1", "01")).toBeNull();
    expect(write("G", "2", "00")).toBeNull();
    wire.latch(latchKey("2", false), "dec-north").trip();
    expect(write("J", "3")).toMatchObject({ kind: "limit", details: { axis: "dec", switch: "dec-north" } });
  });

  test("on a reversed axis the positive limit is the board's backward direction", () => {
    const { wire, write } = line(true);
    wire.latch(latchKey("1", true), "ra-west").trip();
    expect(write("G", "1", "01")).toMatchObject({ kind: "limit", details: { limit: "positive", switch: "ra-west" } });
    expect(write("G", "1", "00")).toBeNull();
    expect(write("J", "1")).toBeNull();
  });

  test("a latch is released at a trip count: a trip counted after that count keeps it tripped", () => {
    const { wire, write } = line();
    const latch = wire.latch(latchKey("1", false), "ra-west");
    expect(write("G", "1", "00")).toBeNull();
    latch.trip();
    const seen = latch.trips();
    latch.trip(); // the reflex thread, between the read of the count and the release
    latch.release(seen);
    expect(latch.tripped()).toBe(true);
    expect(write("J", "1")).toMatchObject({ kind: "limit" });
    latch.release(latch.trips());
    expect(latch.tripped()).toBe(false);
    expect(write("J", "1")).toBeNull();
    expect(wire.tripped(latchKey("1", false))).toEqual([]);
  });

  test("several switches the same way: each has its own latch; the refusal names the tripped ones", () => {
    const { wire, write } = line();
    const a = wire.latch(latchKey("1", false), "ra-west");
    const b = wire.latch(latchKey("1", false), "ra-west-backup");
    a.trip();
    b.trip();
    a.release(a.trips());
    expect(write("G", "1", "00")).toMatchObject({ details: { switch: "ra-west-backup" } });
    expect(wire.tripped(latchKey("1", false))).toEqual(["ra-west-backup"]);
  });
});
