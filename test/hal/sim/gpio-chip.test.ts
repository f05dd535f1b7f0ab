// The simulated GPIO chip keeps the kernel's semantics (gpiolib-cdev), since the limit-switch code is tested on it:
// active-low, bias, edges per flags, debounce with bounces, seqno, EBUSY, outputs; and edges without debounce are
// emitted synchronously from drive(). With `readerThread` its edges go through the real reader thread instead (which
// runs the reflexes), and that thread can be broken the ways a real one breaks.
import { describe, expect, test } from "bun:test";
import type { EdgeHealth, LineEdge } from "../../../hal/gpio/chip";
import * as libc from "../../../hal/gpio/libc";
import { GpioError } from "../../../hal/gpio/uapi";
import { SharedWire } from "../../../hal/serial/wire";
import { Signal } from "../../../hal/signal";
import { SimGpioChip } from "../../../hal/sim/gpio-chip";

const GUARD_MS = 10_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), GUARD_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    if (e instanceof Error) return e;
  }
  throw new Error("did not throw an Error");
}

let clock = 0;
const make = (lines = 8) => new SimGpioChip({ label: "test-chip", lines, now: () => clock });
const short = (e: LineEdge) => `${e.offset}${e.rising ? "↑" : "↓"}#${e.seqno}`;

describe("SimGpioChip inputs", () => {
  test("logical value = physical level XOR active-low", () => {
    const chip = make();
    chip.drive(0, true);
    chip.drive(1, true);
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 0 }, { offset: 1, activeLow: true }] });
    expect(inputs.values()).toEqual([true, false]);
    chip.drive(0, false);
    chip.drive(1, false);
    expect(inputs.values()).toEqual([false, true]);
  });

  test("bias only matters when nothing drives the pin", () => {
    const chip = make();
    const inputs = chip.requestInputs({
      consumer: "t",
      lines: [
        { offset: 0, bias: "pull-up" },
        { offset: 1, bias: "pull-down" },
        { offset: 2, bias: "pull-up", activeLow: true },
        { offset: 3, bias: "disabled" },
      ],
    });
    expect(inputs.values()).toEqual([true, false, false, false]);
    chip.drive(0, false);
    chip.drive(1, true);
    chip.drive(2, false);
    chip.drive(3, true);
    expect(inputs.values()).toEqual([false, true, true, true]);
    for (const o of [0, 1, 2, 3]) chip.float(o);
    expect(inputs.values()).toEqual([true, false, false, false]);
    expect([0, 1, 2, 3].map((o) => chip.level(o))).toEqual([true, false, true, false]);
  });

  test("edges on logical transitions, per the requested flags, emitted synchronously from drive()", () => {
    clock = 1.5;
    const chip = make();
    for (const o of [0, 1, 2, 3]) chip.drive(o, false);
    const inputs = chip.requestInputs({
      consumer: "t",
      lines: [
        { offset: 0, edge: "both" },
        { offset: 1, edge: "rising" },
        { offset: 2, edge: "falling" },
        { offset: 3, edge: "none" },
      ],
    });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    for (const o of [0, 1, 2, 3]) {
      chip.drive(o, true);
      chip.drive(o, true); // no change, no edge
      chip.drive(o, false);
    }
    expect(edges.map(short)).toEqual(["0↑#1", "0↓#2", "1↑#3", "2↓#4"]);
    expect(edges[0]!.timestampNs).toBe(1_500_000n);
  });

  test("active-low edges are logical: the pin falling is a rising edge", () => {
    const chip = make();
    chip.drive(5, true);
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 5, activeLow: true, bias: "pull-up", edge: "rising" }] });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    chip.drive(5, false); // switch closes, pulls the line low: tripped
    chip.drive(5, true);
    expect(edges.map(short)).toEqual(["5↑#1"]);
  });

  test("letting go of a pin hands it back to its bias, with an edge", () => {
    const chip = make();
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 2, bias: "pull-up", edge: "both" }] });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    chip.drive(2, false);
    chip.float(2); // released: the pull-up takes it high again
    expect(edges.map(short)).toEqual(["2↓#1", "2↑#2"]);
  });

  test("debounce: bounces shorter than the period produce nothing; a stable change one edge after the period", async () => {
    const chip = make();
    chip.drive(0, true);
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 0, activeLow: true, edge: "both", debounceUs: 20_000 }] });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    // A switch closing with contact bounce: low, high, low, high, low within far less than 20 ms.
    const t0 = performance.now();
    for (const level of [false, true, false, true, false]) chip.drive(0, level);
    expect(edges).toEqual([]); // nothing yet: the level has not been stable for 20 ms
    expect(inputs.values()).toEqual([false]); // values() read the debounced level, like the kernel
    const first = await within(new Promise<LineEdge>((resolve) => inputs.edges.on(resolve)), "the debounced edge");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
    expect(short(first)).toBe("0↑#1");
    expect(inputs.values()).toEqual([true]);
    // A glitch that returns to the same level before the period ends: no edge at all.
    chip.drive(0, true);
    chip.drive(0, false);
    await within(chip.settled(), "the debounce period to end");
    expect(edges.map(short)).toEqual(["0↑#1"]);
    // And the release, bouncing too: one falling edge.
    for (const level of [true, false, true]) chip.drive(0, level);
    await within(chip.settled(), "the debounce period to end");
    expect(edges.map(short)).toEqual(["0↑#1", "0↓#2"]);
  });

  test("debounce applies per line; a line without it stays synchronous", async () => {
    const chip = make();
    const inputs = chip.requestInputs({
      consumer: "t",
      lines: [
        { offset: 0, bias: "pull-down", edge: "both", debounceUs: 5000 },
        { offset: 1, bias: "pull-down", edge: "both" },
      ],
    });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    chip.drive(0, true);
    chip.drive(1, true);
    expect(edges.map(short)).toEqual(["1↑#1"]);
    await within(chip.settled(), "the debounce period to end");
    expect(edges.map(short)).toEqual(["1↑#1", "0↑#2"]);
  });

  test("a request starts from the current levels: no edge for what was already so", () => {
    const chip = make();
    chip.drive(3, false);
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 3, activeLow: true, edge: "both" }] });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    expect(inputs.values()).toEqual([true]);
    expect(edges).toEqual([]);
  });
});

describe("SimGpioChip requests", () => {
  test("a line held by another request is EBUSY, naming the holder; release frees it", () => {
    const chip = make();
    const a = chip.requestInputs({ consumer: "skynode-limits", lines: [{ offset: 4 }, { offset: 5 }] });
    expect(chip.holder(4)).toBe("skynode-limits");
    const err = thrown(() => chip.requestOutputs({ consumer: "other", lines: [{ offset: 6, initial: false }, { offset: 5, initial: true }] }));
    expect(err).toBeInstanceOf(GpioError);
    expect(err).toMatchObject({
      code: "EBUSY",
      message:
        "GPIO_V2_GET_LINE_IOCTL on gpiochip-sim (lines 6,5) failed: Device or resource busy (EBUSY): line 5 is held by 'skynode-limits'",
    });
    expect(chip.holder(6)).toBeNull(); // a failed request holds nothing
    a.release();
    a.release(); // idempotent
    expect(chip.holder(4)).toBeNull();
    expect(() => a.values()).toThrow(/released/);
    const b = chip.requestOutputs({ consumer: "other", lines: [{ offset: 6, initial: false }, { offset: 5, initial: true }] });
    expect(b.values()).toEqual([false, true]);
  });

  test("the kernel's checks: lines on the chip, none twice, 1..64 of them, at most 10 distinct settings", () => {
    const chip = make(8);
    expect(() => chip.requestInputs({ consumer: "t", lines: [{ offset: 8 }] })).toThrow("line 8 is not on gpiochip-sim [test-chip] (8 lines)");
    expect(thrown(() => chip.requestInputs({ consumer: "t", lines: [{ offset: 1 }, { offset: 1 }] }))).toMatchObject({ code: "EBUSY" });
    expect(() => chip.requestInputs({ consumer: "t", lines: [] })).toThrow(/1\.\.64/);
    const big = new SimGpioChip({ label: "big", lines: 16 });
    const lines = Array.from({ length: 11 }, (_, i) => ({ offset: i, debounceUs: 100 * (i + 1) }));
    expect(() => big.requestInputs({ consumer: "t", lines })).toThrow(/at most 10/);
    expect(big.holder(0)).toBeNull();
  });

  test("edges stop with release, pending debounce included; seqno counts per request", async () => {
    const chip = make();
    const a = chip.requestInputs({ consumer: "a", lines: [{ offset: 0, bias: "pull-down", edge: "both", debounceUs: 1000 }] });
    const edges: LineEdge[] = [];
    a.edges.on((e) => edges.push(e));
    chip.drive(0, true);
    a.release();
    await within(chip.settled(), "settled"); // resolves at once: release cancelled the period
    expect(edges).toEqual([]);
    const b = chip.requestInputs({ consumer: "b", lines: [{ offset: 0, bias: "pull-down", edge: "both" }] });
    b.edges.on((e) => edges.push(e));
    chip.drive(0, false);
    chip.drive(0, true);
    expect(edges.map(short)).toEqual(["0↓#1", "0↑#2"]);
  });

  test("close() releases everything and refuses new requests", () => {
    const chip = make();
    const i = chip.requestInputs({ consumer: "t", lines: [{ offset: 0 }] });
    const o = chip.requestOutputs({ consumer: "t", lines: [{ offset: 1, initial: true }] });
    chip.close();
    expect(() => i.values()).toThrow(/released/);
    expect(() => o.set(1, false)).toThrow(/released/);
    expect(chip.holder(0)).toBeNull();
    expect(() => chip.requestInputs({ consumer: "t", lines: [{ offset: 0 }] })).toThrow(/closed/);
  });
});

describe("SimGpioChip outputs", () => {
  test("initial values, set(), active-low: level() is the physical pin", () => {
    const chip = make();
    const out = chip.requestOutputs({
      consumer: "t",
      lines: [
        { offset: 2, initial: true },
        { offset: 3, initial: true, activeLow: true },
      ],
    });
    expect(out.values()).toEqual([true, true]);
    expect([chip.level(2), chip.level(3)]).toEqual([true, false]);
    out.set(3, false);
    out.set(2, false);
    expect(out.values()).toEqual([false, false]);
    expect([chip.level(2), chip.level(3)]).toEqual([false, true]);
    expect(() => out.set(4, true)).toThrow(/not in this request/);
  });

  test("open-drain lets go of the pin when high: it reads the outside world, else the pull-up", () => {
    const chip = make();
    const out = chip.requestOutputs({ consumer: "t", lines: [{ offset: 1, initial: false, drive: "open-drain" }] });
    expect(chip.level(1)).toBe(false);
    out.set(1, true);
    expect(chip.level(1)).toBe(true);
    chip.drive(1, false); // another open-drain device pulls the wire low
    expect(chip.level(1)).toBe(false);
  });

  test("an output wired to an input: the input sees it, with edges", () => {
    const chip = make();
    const out = chip.requestOutputs({ consumer: "driver", lines: [{ offset: 0, initial: false }] });
    const inputs = chip.requestInputs({ consumer: "reader", lines: [{ offset: 1, edge: "both" }] });
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => edges.push(e));
    // The "wire": whatever the output drives, the test drives onto the input.
    out.set(0, true);
    chip.drive(1, chip.level(0));
    expect(inputs.values()).toEqual([true]);
    expect(edges.map(short)).toEqual(["1↑#1"]);
  });

  test("a released output keeps its last level, as most SoCs do; an input request takes the pin over", () => {
    const chip = make();
    const out = chip.requestOutputs({ consumer: "t", lines: [{ offset: 7, initial: true }] });
    out.release();
    expect(chip.level(7)).toBe(true);
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 7, bias: "pull-down" }] });
    expect(inputs.values()).toEqual([false]);
  });
});

describe("SimGpioChip with readerThread", () => {
  /** Resolves once `ready()` holds, re-checked at each emission of `signal`. */
  const when = <T>(signal: Signal<T>, ready: () => boolean, what: string) =>
    within(
      new Promise<void>((resolve) => {
        if (ready()) return resolve();
        const off = signal.on(() => {
          if (!ready()) return;
          off();
          resolve();
        });
      }),
      what,
    );

  test("edges come from the reader thread, in order, after drive() returns; values() are at once", async () => {
    const chip = new SimGpioChip({ label: "t", lines: 8, readerThread: true });
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 2, edge: "both" }, { offset: 5, edge: "both" }] });
    const edges: LineEdge[] = [];
    const got = new Signal<void>();
    inputs.edges.on((e) => (edges.push(e), got.emit()));
    chip.drive(2, true);
    chip.drive(5, true);
    chip.drive(2, false);
    expect(edges).toEqual([]);
    expect(inputs.values()).toEqual([false, true]);
    await when(got, () => edges.length === 3, "three edges");
    expect(edges.map(short)).toEqual(["2↑#1", "5↑#2", "2↓#3"]);
    chip.close();
  });

  test("the reader thread runs the reflexes: a rising edge trips the latch and writes the bytes on the line", async () => {
    const chip = new SimGpioChip({ label: "t", lines: 8, readerThread: true });
    const [r, w] = libc.pipe(libc.O_NONBLOCK);
    const wire = new SharedWire();
    wire.setFd(w); // a pipe standing in for the serial line
    const latch = wire.latch(7, "switch");
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 1, edge: "both" }], reflexes: [{ offset: 1, wire, bytes: new Uint8Array([58, 76, 49, 13]), latch }] });
    const got = new Signal<void>();
    let n = 0;
    inputs.edges.on(() => (n++, got.emit()));
    chip.drive(1, true);
    await when(got, () => n === 1, "the edge");
    expect(latch.tripped()).toBe(true);
    expect(wire.oobWrites()).toBe(1);
    const buf = new Uint8Array(16);
    expect(new TextDecoder().decode(buf.subarray(0, libc.readInto(r, buf)))).toBe(":L1\r");
    chip.close();
    libc.close(r);
    libc.close(w);
  });

  test.each(["eof", "error", "terminate"] as const)("failReaders(%s): not reading, with why; held, restarts fail; released, reading again", async (how) => {
    const chip = new SimGpioChip({ label: "t", lines: 8, readerThread: { backoff: { initialMs: 5, maxMs: 20 } } });
    const inputs = chip.requestInputs({ consumer: "t", lines: [{ offset: 3, edge: "both" }] });
    const health: EdgeHealth[] = [];
    const changed = new Signal<void>();
    inputs.health.on((h) => (health.push(h), changed.emit()));
    const edges: LineEdge[] = [];
    inputs.edges.on((e) => (edges.push(e), changed.emit()));
    chip.drive(3, true);
    await when(changed, () => edges.length === 1, "an edge before the failure");
    chip.holdReaders("unplugged");
    chip.failReaders(how);
    await when(changed, () => health.some((h) => !h.reading && h.reason === "it could not be restarted: unplugged"), "a refused restart");
    const why = { eof: "the event fd reached end of file", error: "read failed: Is a directory (EISDIR)", terminate: "the reader thread was terminated" }[how];
    expect(health[0]).toEqual({ reading: false, reason: why });
    chip.drive(3, false); // lost: nobody reads
    chip.holdReaders(null);
    await when(changed, () => health.at(-1)?.reading === true, "reading again");
    expect(inputs.values()).toEqual([false]);
    chip.drive(3, true);
    await when(changed, () => edges.length === 2, "an edge from the new thread");
    // The edge lost meanwhile shows as a gap in seqno.
    expect(edges.map(short)).toEqual(["3↑#1", "3↑#3"]);
    chip.close();
  });
});
