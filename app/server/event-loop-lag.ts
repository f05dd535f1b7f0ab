/** How late the event loop runs timers: a timer every `periodMs` notes how far past its time it fired; `maxMs` is
 * the worst of the last `windowMs`. A busy loop is what delays every socket, the limit guard's bookkeeping and the
 * snapshots alike, so /healthz reports it. */
export class EventLoopLag {
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly samples: number[] = [];
  private last = performance.now();

  constructor(
    private readonly periodMs = 100,
    windowMs = 10_000,
  ) {
    const keep = Math.max(1, Math.round(windowMs / periodMs));
    this.timer = setInterval(() => {
      const now = performance.now();
      this.samples.push(Math.max(0, now - this.last - this.periodMs));
      if (this.samples.length > keep) this.samples.shift();
      this.last = now;
    }, periodMs);
    this.timer.unref();
  }

  /** The largest lag of the window, in ms (rounded to 0.1). */
  maxMs(): number {
    return Math.round(Math.max(0, ...this.samples) * 10) / 10;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
