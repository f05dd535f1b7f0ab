// A supervised EventReader over real pipes: a reader thread that reaches end of file, fails a read, or is terminated
// from outside is reported at once (health: not reading, why), restarted on a fresh fd after a backoff that doubles
// up to its cap, and reported reading again once the new thread polls; edges flow again from the new thread.
import { afterEach, describe, expect, test } from "bun:test";
import type { EdgeHealth, LineEdge } from "../../../hal/gpio/chip";
import * as libc from "../../../hal/gpio/libc";
import { SupervisedReader } from "../../../hal/gpio/supervised-reader";
import { encodeLineEvents, LineEventId } from "../../../hal/gpio/uapi";
import type { HalLog } from "../../../hal/log";
import { Signal } from "../../../hal/signal";

const GUARD_MS = 10_000;

/** Resolves with the first value `signal` emits that satisfies `pred`; rejects after GUARD_MS. */
function next<T>(signal: Signal<T>, pred: (v: T) => boolean, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, GUARD_MS);
    const off = signal.on((v) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

/** Pipes handed out as the reader's fds; `failOpens` makes that many opens throw first. */
function pipes() {
  const live = new Map<number, number>(); // read end -> write end (or -1 once closed)
  const opened: number[] = [];
  let failOpens = 0;
  return {
    live,
    opened,
    failNext(n: number) {
      failOpens = n;
    },
    source: {
      open: () => {
        if (failOpens > 0) {
          failOpens--;
          throw new Error("the chip is gone");
        }
        const [r, w] = libc.pipe();
        live.set(r, w);
        opened.push(r);
        return r;
      },
      release: (r: number) => {
        const w = live.get(r);
        libc.close(r);
        if (w !== undefined && w >= 0) libc.close(w);
        live.delete(r);
      },
    },
    /** The write end of the pipe the current thread reads. */
    writer(): number {
      const w = live.get(opened.at(-1)!);
      if (w === undefined || w < 0) throw new Error("no live pipe");
      return w;
    },
    closeWriter() {
      const r = opened.at(-1)!;
      libc.close(live.get(r)!);
      live.set(r, -1);
    },
  };
}

function retries(): HalLog & { delays: number[] } {
  const delays: number[] = [];
  return { delays, info() {}, warn() {}, error: (f) => delays.push((f as { retry_ms: number }).retry_ms) };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function start(backoff = { initialMs: 5, maxMs: 40 }) {
  const p = pipes();
  const log = retries();
  const reader = new SupervisedReader(p.source, { name: "test lines", log, backoff });
  cleanups.push(() => reader.stop());
  const edges: LineEdge[] = [];
  const arrived = new Signal<void>();
  reader.edges.on((e) => {
    edges.push(e);
    arrived.emit();
  });
  const write = (seqno: number) =>
    libc.writeAll(p.writer(), encodeLineEvents([{ timestampNs: 1n, id: LineEventId.RISING_EDGE, offset: 4, seqno, lineSeqno: seqno }]));
  const edge = (seqno: number) => next(arrived, () => edges.some((e) => e.seqno === seqno), `edge #${seqno}`);
  const health = (reading: boolean) => next<EdgeHealth>(reader.health, (h) => h.reading === reading, reading ? "reading again" : "the failure");
  return { p, log, reader, write, edge, health };
}

describe("SupervisedReader", () => {
  test.each([
    ["end of file", (r: ReturnType<typeof start>) => r.p.closeWriter(), "the event fd reached end of file"],
    ["terminated", (r: ReturnType<typeof start>) => r.reader.reader!.worker.terminate(), "the reader thread was terminated"],
  ] as const)("%s: reported, restarted on a new fd, edges flow again", async (_, fail, reason) => {
    const r = start();
    await next(r.reader.reader!.ready, () => true, "the first thread polling");
    r.write(1);
    await r.edge(1);
    const first = r.p.opened[0]!;
    const down = r.health(false);
    fail(r);
    expect(await down).toEqual({ reading: false, reason });
    expect(r.reader.state).toEqual({ reading: false, reason });
    expect(r.p.live.has(first)).toBe(false); // the old fd released
    await r.health(true);
    expect(r.p.opened).toHaveLength(2);
    r.write(2);
    await r.edge(2);
  });

  test("restarts that fail back off, doubling up to the cap; the first that works reports reading", async () => {
    const r = start({ initialMs: 5, maxMs: 40 });
    await next(r.reader.reader!.ready, () => true, "the first thread polling");
    r.p.failNext(5);
    const down = r.health(false);
    r.p.closeWriter();
    await down;
    const reasons: string[] = [];
    r.reader.health.on((h) => reasons.push(h.reading ? "reading" : h.reason));
    await r.health(true);
    expect(r.log.delays).toEqual([5, 10, 20, 40, 40, 40]);
    // The reason follows what is failing now, then reading once a thread polls again.
    expect(reasons).toEqual(["it could not be restarted: the chip is gone", "reading"]);
    r.write(7);
    await r.edge(7);
  });

  test("stop() ends the thread and any restart; the fd is released before it returns", async () => {
    const r = start();
    await next(r.reader.reader!.ready, () => true, "the first thread polling");
    const down = r.health(false);
    r.p.closeWriter();
    await down;
    r.reader.stop();
    expect(r.p.live.size).toBe(0);
    expect(r.reader.reader).toBeNull();
  });
});
