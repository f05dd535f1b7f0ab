/** An inbound frame budget per connection: a token bucket of `perSecond` frames (a burst of as many), refilled
 * continuously. A connection over budget has its frames refused; one that stays over it for `floodWindows` whole
 * seconds in a row is flooding, and its endpoint closes it. */
export class FrameRate {
  private tokens: number;
  private last: number;
  private windowStart: number;
  private droppedInWindow = 0;
  private overWindows = 0;
  /** Frames refused since the last answer about it (answered at most once a second). */
  private unanswered = 0;
  private lastAnswer = -Infinity;

  constructor(
    private readonly perSecond: number,
    private readonly floodWindows = 5,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.last = this.windowStart = now();
  }

  /** Takes one frame's token: "ok", "refused" (drop it; `answer` says whether to tell the client now), or "flood". */
  take(): { verdict: "ok" } | { verdict: "refused"; answer: number } | { verdict: "flood" } {
    const now = this.now();
    this.roll(now);
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens--;
      return { verdict: "ok" };
    }
    this.droppedInWindow++;
    if (this.overWindows + 1 >= this.floodWindows) return { verdict: "flood" };
    this.unanswered++;
    if (now - this.lastAnswer < 1000) return { verdict: "refused", answer: 0 };
    this.lastAnswer = now;
    const n = this.unanswered;
    this.unanswered = 0;
    return { verdict: "refused", answer: n };
  }

  /** Whole seconds since the window opened: each that saw refusals extends the flood; one without ends it. */
  private roll(now: number): void {
    const elapsed = Math.floor((now - this.windowStart) / 1000);
    if (elapsed === 0) return;
    this.overWindows = this.droppedInWindow > 0 && elapsed === 1 ? this.overWindows + 1 : 0;
    this.droppedInWindow = 0;
    this.windowStart += elapsed * 1000;
  }
}
