// The edge-event reader over a REAL pipe made with libc pipe(): the test writes 48-byte gpio_v2_line_event records
// into it as the kernel would return them, and they must arrive as edges, in order, without blocking the event
// loop; stop() must end the worker promptly and leave no fd behind.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import type { LineEdge } from "../../../hal/gpio/chip";
import { EventReader } from "../../../hal/gpio/event-reader";
import * as libc from "../../../hal/gpio/libc";
import { encodeLineEvents, LineEventId, type LineEvent } from "../../../hal/gpio/uapi";
import type { HalLog } from "../../../hal/log";
import { Signal } from "../../../hal/signal";

const GUARD_MS = 10_000;

function within<T>(promise: Promise<T>, what: string, ms = GUARD_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Collects a reader's edges; `count(n)` resolves once n have arrived. */
function collect(reader: EventReader): { edges: LineEdge[]; count(n: number): Promise<LineEdge[]> } {
  const edges: LineEdge[] = [];
  const arrived = new Signal<void>();
  reader.edges.on((e) => {
    edges.push(e);
    arrived.emit();
  });
  return {
    edges,
    count: (n) =>
      within(
        new Promise<LineEdge[]>((resolve) => {
          if (edges.length >= n) return resolve(edges);
          const off = arrived.on(() => {
            if (edges.length >= n) {
              off();
              resolve(edges);
            }
          });
        }),
        `${n} edges (have ${edges.length})`,
      ),
  };
}

interface Entry {
  level: "info" | "warn" | "error";
  fields: object;
  message: string;
}

function captureLog(): HalLog & { entries: Entry[]; next(level: Entry["level"]): Promise<Entry> } {
  const entries: Entry[] = [];
  const logged = new Signal<Entry>();
  const add = (level: Entry["level"]) => (fields: object, message: string) => {
    const e = { level, fields, message };
    entries.push(e);
    logged.emit(e);
  };
  return {
    entries,
    info: add("info"),
    warn: add("warn"),
    error: add("error"),
    next: (level) =>
      within(
        new Promise<Entry>((resolve) => {
          const off = logged.on((e) => {
            if (e.level === level) {
              off();
              resolve(e);
            }
          });
        }),
        `a ${level} log line`,
      ),
  };
}

const event = (seqno: number, offset = 17, rising = seqno % 2 === 1): LineEvent => ({
  timestampNs: 1_000_000_000n + BigInt(seqno) * 1000n,
  id: rising ? LineEventId.RISING_EDGE : LineEventId.FALLING_EDGE,
  offset,
  seqno,
  lineSeqno: seqno,
});

const asEdge = (e: LineEvent): LineEdge => ({ offset: e.offset, rising: e.id === LineEventId.RISING_EDGE, timestampNs: e.timestampNs, seqno: e.seqno });

/** The pipe fds this process holds (the reader's only fds of its own are its wake pipe). */
function openPipes(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("pipe:")) out.push(`${fd} ${target}`);
    } catch {
      // the directory's own fd, gone by now
    }
  }
  return out.sort();
}

// Every pipe and reader a test makes, closed afterwards even when it fails.
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function setup(opts: { nonblocking?: boolean; log?: HalLog } = {}) {
  const [r, w] = libc.pipe(opts.nonblocking ? libc.O_NONBLOCK : 0);
  const reader = new EventReader(r, { name: "test pipe", log: opts.log });
  // Each end closed exactly once: a second close could hit a reused fd number.
  let rOpen = true;
  let wOpen = true;
  const closeWriter = () => {
    if (wOpen) libc.close(w);
    wOpen = false;
  };
  const close = () => {
    reader.stop();
    if (rOpen) libc.close(r);
    rOpen = false;
    closeWriter();
  };
  cleanups.push(close);
  const write = (events: LineEvent[]) => libc.writeAll(w, encodeLineEvents(events));
  return { r, w, reader, write, close, closeWriter };
}

describe("EventReader over a real pipe", () => {
  test("one record becomes one edge with its fields", async () => {
    const { reader, write } = setup();
    const got = collect(reader);
    write([event(1, 27, true)]);
    expect(await got.count(1)).toEqual([{ offset: 27, rising: true, timestampNs: 1_000_001_000n, seqno: 1 }]);
  });

  test("several records in one write, then bursts, arrive in order", async () => {
    const { reader, write } = setup();
    const got = collect(reader);
    const all: LineEvent[] = [];
    let seqno = 0;
    const batch = (n: number) => {
      const events = Array.from({ length: n }, () => event(++seqno, seqno % 3));
      all.push(...events);
      write(events);
    };
    batch(3); // three records in one write
    await got.count(3);
    for (let i = 0; i < 200; i++) batch(1 + (i % 5)); // a burst of small writes, faster than the reader wakes
    batch(85); // 4080 bytes: the largest write a pipe keeps whole (PIPE_BUF 4096)
    const edges = await got.count(all.length);
    expect(edges.length).toBe(all.length);
    expect(edges).toEqual(all.map(asEdge));
  });

  test("the event loop keeps running while the worker waits in poll()", async () => {
    const { reader, write } = setup();
    const got = collect(reader);
    // Timers keep firing while the worker sits in poll(): the main thread is free.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await within(
      new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (ticks >= 5) {
            clearInterval(check);
            resolve();
          }
        }, 1);
      }),
      "timer ticks while the reader waits",
    );
    clearInterval(timer);
    write([event(1)]);
    await got.count(1);
  });

  test("a gap in seqno is reported as dropped events", async () => {
    const log = captureLog();
    const { reader, write } = setup({ log });
    const drops: { missing: number; seqno: number }[] = [];
    reader.dropped.on((d) => drops.push(d));
    const got = collect(reader);
    write([event(1), event(2), event(5), event(6)]);
    await got.count(4);
    expect(drops).toEqual([{ missing: 2, seqno: 5 }]);
    expect(log.entries.filter((e) => e.level === "warn")).toMatchObject([{ fields: { missing: 2, seqno: 5 } }]);
    expect(got.edges.map((e) => e.seqno)).toEqual([1, 2, 5, 6]);
  });

  test("a partial record is reported, not silently dropped", async () => {
    const log = captureLog();
    const { reader, w } = setup({ log });
    const got = collect(reader);
    const bytes = new Uint8Array(50);
    bytes.set(encodeLineEvents([event(1)]));
    const reported = log.next("error");
    libc.writeAll(w, bytes); // one atomic 50-byte write: one record and 2 stray bytes
    expect((await reported).fields).toMatchObject({ bytes: 50, trailing: 2 });
    expect(got.edges).toHaveLength(1);
  });

  test("end of file (the writer went away) is logged, reported as a failure and stops the worker", async () => {
    const log = captureLog();
    const { reader, closeWriter } = setup({ log });
    const eof = log.next("warn");
    const failed = within(new Promise<string>((resolve) => reader.failed.on(resolve)), "the failure");
    closeWriter();
    expect((await eof).message).toMatch(/end of file/);
    expect(await failed).toBe("the event fd reached end of file");
    expect(reader.failedWith).toBe("the event fd reached end of file");
    reader.stop(); // the worker has already left: stop() returns at once
  });

  test("a worker terminated from outside is reported as a failure; stop() then waits for no answer", async () => {
    const log = captureLog();
    const { reader, write } = setup({ log });
    const got = collect(reader);
    const ready = within(new Promise<void>((resolve) => reader.ready.on(resolve)), "the worker polling");
    await ready;
    const failed = within(new Promise<string>((resolve) => reader.failed.on(resolve)), "the failure");
    reader.worker.terminate(); // while it sleeps in poll()
    expect(await failed).toBe("the reader thread was terminated");
    write([event(1)]); // nobody reads it any more
    reader.stop();
    expect(log.entries.filter((e) => /did not stop in time/.test(e.message))).toEqual([]);
    expect(got.edges).toEqual([]);
  });

  test("stop() ends the worker promptly; afterwards the fd is no longer read", async () => {
    const { reader, write, r } = setup({ nonblocking: true });
    const got = collect(reader);
    write([event(1)]);
    await got.count(1);
    const t0 = performance.now();
    reader.stop();
    expect(performance.now() - t0).toBeLessThan(1000);
    // A record written now stays in the pipe for us to read back: the worker no longer touches the fd.
    write([event(2)]);
    const buf = new Uint8Array(96);
    expect(libc.readInto(r, buf)).toBe(48);
    expect(got.edges).toHaveLength(1);
    reader.stop(); // idempotent
  });

  test("stop() straight after construction, before the worker has started, neither hangs nor reads", () => {
    const { reader, write, r } = setup({ nonblocking: true });
    reader.stop();
    write([event(1)]);
    expect(libc.readInto(r, new Uint8Array(48))).toBe(48);
  });

  test("no fd leak: the wake pipe goes with stop(), over many readers", async () => {
    // One reader first, so fds Bun opens once (its worker machinery) are already there.
    const warm = setup();
    warm.close();
    const before = openPipes();
    for (let i = 0; i < 20; i++) {
      const { reader, write, close } = setup();
      const got = collect(reader);
      if (i % 2 === 0) {
        write([event(1)]);
        await got.count(1);
      }
      close();
    }
    // No pipe opened since is still open (pipes closed meanwhile by anything else do not matter).
    expect(openPipes().filter((p) => !before.includes(p))).toEqual([]);
  });

  test("an idle reader never keeps the process alive", async () => {
    // A child process starts a reader on a pipe nobody writes to, and does nothing else: it must exit by itself.
    const script = `
      import { EventReader } from ${JSON.stringify(`${import.meta.dir}/../../../hal/gpio/event-reader.ts`)};
      import * as libc from ${JSON.stringify(`${import.meta.dir}/../../../hal/gpio/libc.ts`)};
      const [r] = libc.pipe();
      new EventReader(r);
      console.log("reading");
    `;
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    try {
      const code = await within(child.exited, "the child to exit on its own", 15_000);
      expect(await new Response(child.stdout).text()).toBe("reading\n");
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
