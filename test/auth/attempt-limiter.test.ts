// The sign-in limiter's rule on its own, with a clock the test moves: places taken before any await, locks only
// lengthened.
import { describe, expect, test } from "bun:test";
import { AttemptLimiter, type Attempt } from "../../app/auth/attempt-limiter";

const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
};
const limiterWith = (c = clock()) => ({ c, limiter: new AttemptLimiter({ maxFailures: 5, lockMs: 30_000 }, c.now) });
const started = (l: AttemptLimiter, key: string): Attempt => {
  const s = l.begin(key);
  if (!s.ok) throw new Error(`refused, retry in ${s.retryInMs} ms`);
  return s.attempt;
};

describe("AttemptLimiter", () => {
  test("a burst: five places per name, the sixth attempt in flight is refused at once", () => {
    const { limiter } = limiterWith();
    const inFlight = Array.from({ length: 5 }, () => started(limiter, "gus"));
    const sixth = limiter.begin("gus");
    expect(sixth).toEqual({ ok: false, locked: false, retryInMs: 1000 });
    // Other names have their own places.
    expect(limiter.begin("ada").ok).toBe(true);
    inFlight.forEach((a) => a.failed());
    const locked = limiter.begin("gus");
    expect(locked).toEqual({ ok: false, locked: true, retryInMs: 30_000 });
  });

  test("five failures lock for lockMs from the last; the lock ends on time and failures start again from zero", () => {
    const { c, limiter } = limiterWith();
    for (let i = 0; i < 4; i++) started(limiter, "gus").failed();
    c.advance(10_000);
    started(limiter, "gus").failed();
    c.advance(29_999);
    expect(limiter.begin("gus").ok).toBe(false);
    c.advance(1);
    for (let i = 0; i < 4; i++) started(limiter, "gus").failed();
    expect(limiter.begin("gus").ok).toBe(true);
  });

  test("a success clears earlier failures; a lock comes only once all five places have failed, and only time ends it", () => {
    const { c, limiter } = limiterWith();
    const right = started(limiter, "gus");
    Array.from({ length: 4 }, () => started(limiter, "gus")).forEach((a) => a.failed());
    // Four failures and one attempt in flight: no place left, but no lock either.
    expect(limiter.begin("gus")).toEqual({ ok: false, locked: false, retryInMs: 1000 });
    right.succeeded();
    const five = Array.from({ length: 5 }, () => started(limiter, "gus"));
    five.forEach((a) => a.failed());
    // No attempt that began before the lock is still running to end it early, and a success elsewhere is elsewhere.
    started(limiter, "ada").succeeded();
    expect(limiter.begin("gus")).toEqual({ ok: false, locked: true, retryInMs: 30_000 });
    c.advance(20_000);
    expect(limiter.begin("gus")).toEqual({ ok: false, locked: true, retryInMs: 10_000 });
    c.advance(10_000);
    expect(limiter.begin("gus").ok).toBe(true);
  });

  test("an attempt ended without a verdict gives its place back; a second ending of one attempt is ignored", () => {
    const { limiter } = limiterWith();
    const places = Array.from({ length: 5 }, () => started(limiter, "gus"));
    places[0]!.abandoned();
    places[0]!.failed();
    const again = started(limiter, "gus");
    places.slice(1).forEach((a) => a.failed());
    again.succeeded();
    again.failed();
    expect(limiter.begin("gus").ok).toBe(true);
  });

  test("memory stays bounded: idle names are dropped, locked ones kept", () => {
    const c = clock();
    const limiter = new AttemptLimiter({ maxFailures: 2, lockMs: 30_000, maxEntries: 10 }, c.now);
    started(limiter, "locked").failed();
    started(limiter, "locked").failed();
    for (let i = 0; i < 100; i++) started(limiter, `name-${i}`).failed();
    expect(limiter.begin("locked").ok).toBe(false);
    expect((limiter as unknown as { entries: Map<string, unknown> }).entries.size).toBeLessThanOrEqual(11);
  });
});
