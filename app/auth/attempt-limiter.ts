/** Slows password (and setup-code) guessing per name. The rule, exactly:
 * - an attempt takes a place the moment it starts, before its slow hash is awaited; at most `maxFailures` places
 *   (attempts in flight plus failures counted) exist per name, and an attempt that finds none is refused;
 * - `maxFailures` failures lock the name for `lockMs` from the last of them; while locked every attempt is refused
 *   and not counted (the right password too);
 * - a success clears the name's failures but never a lock, and a lock is only ever lengthened: an attempt that
 *   started before a lock cannot end it early, whatever its outcome.
 * So a burst of N parallel wrong passwords gets at most `maxFailures` "wrong password" answers, the rest "too many". */
export interface AttemptLimits {
  maxFailures: number;
  lockMs: number;
  /** Names tracked before entries with nothing to remember are dropped (names are the caller's choice). */
  maxEntries?: number;
}

/** Refused: `locked` after failures, or (not locked) every place taken by attempts still in flight. */
export type AttemptStart = { ok: true; attempt: Attempt } | { ok: false; locked: boolean; retryInMs: number };

/** One started attempt; exactly one of its endings counts (later calls are ignored). */
export interface Attempt {
  failed(): void;
  succeeded(): void;
  /** Ended without a verdict (an internal error): its place is given back, nothing counted. */
  abandoned(): void;
}

interface Entry {
  inFlight: number;
  failures: number;
  lockedUntil: number;
}

/** Retry hint for an attempt refused because every place is taken by attempts still in flight. */
const BUSY_RETRY_MS = 1000;

export class AttemptLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limits: AttemptLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Synchronously takes a place for an attempt on `key`, or says how long until one may be tried. */
  begin(key: string): AttemptStart {
    const now = this.now();
    const e = this.entry(key);
    if (e.lockedUntil > now) return { ok: false, locked: true, retryInMs: e.lockedUntil - now };
    if (e.inFlight + e.failures >= this.limits.maxFailures) return { ok: false, locked: false, retryInMs: BUSY_RETRY_MS };
    e.inFlight++;
    let ended = false;
    const end = (outcome: "failed" | "succeeded" | "abandoned") => {
      if (ended) return;
      ended = true;
      e.inFlight--;
      if (outcome === "failed") {
        e.failures++;
        if (e.failures >= this.limits.maxFailures) {
          e.lockedUntil = Math.max(e.lockedUntil, this.now() + this.limits.lockMs);
          e.failures = 0;
        }
      } else if (outcome === "succeeded") {
        e.failures = 0;
      }
      this.forgetIfIdle(key, e);
    };
    return { ok: true, attempt: { failed: () => end("failed"), succeeded: () => end("succeeded"), abandoned: () => end("abandoned") } };
  }

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= (this.limits.maxEntries ?? 10_000)) this.prune();
      this.entries.set(key, (e = { inFlight: 0, failures: 0, lockedUntil: 0 }));
    }
    return e;
  }

  private forgetIfIdle(key: string, e: Entry): void {
    if (e.inFlight === 0 && e.failures === 0 && e.lockedUntil <= this.now()) this.entries.delete(key);
  }

  /** Drops names with nothing in flight and no lock; their stray failures are forgotten (bounded memory beats
   * remembering a wrong guess or two per name forever). */
  private prune(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.inFlight === 0 && e.lockedUntil <= now) this.entries.delete(k);
  }
}
