// The load of the fan-out and group benchmarks' load processes (bench/fanout-client.ts, bench/groups-client.ts): one
// sender, N receivers, at most `window` messages in flight, where a message stops being in flight once every receiver
// has it (or, with a loss timeout, once it is given up on: counted as lost), so the server is saturated without
// unbounded queueing; refilled in bursts of >= `batch`. Deliveries/s = messages received by all receivers inside the
// measurement interval (after a warm-up) / its length. Latency = receive time - the send time `t` the sender put in the
// message, on one clock. A second, paced phase (fixed rate) measures latency at moderate load. The runner hears
// measure_start/measure_end and paced_start/paced_end, to read the server's CPU over each.
import { emit, fail, Histogram, type LatencySummary } from "./load-process";
import { sleep } from "./procs";

/** The load's knobs, as the runner passes them (bench/rounds.ts' loadKnobs). */
export interface LoadKnobs {
  window: number;
  /** The sender tops the window up only once this many slots are free (then sends them back to back). */
  batch: number;
  warmupMs: number;
  durationMs: number;
  /** Messages per second in the paced phase. */
  pacedRate: number;
  pacedMs: number;
}

export interface WindowedLoadConfig extends LoadKnobs {
  receivers: number;
}

export interface WindowedLoadOptions {
  /** The clock `t` is on (the receivers' clock). */
  clock: () => number;
  /** Sends message `seq`, stamped with send time `now`. */
  send: (seq: number, now: number) => void;
  /** How long the messages still in flight after each phase may take to arrive. */
  drainMs: number;
  /** Gives up on a message in flight this long (a dropped frame would stall the window); null: never. */
  lossTimeoutMs: number | null;
  /** What a message is called in error messages ("snapshots"). */
  unit: string;
}

/** The figures of a run, as the load processes report them in their result event (per_receiver_per_s renamed). */
export interface WindowedLoadFigures {
  frame_bytes: number;
  measured_s: number;
  published: number;
  deliveries: number;
  deliveries_per_s: number;
  /** Messages per second (deliveries per receiver). */
  per_receiver_per_s: number;
  saturated: LatencySummary;
  paced: LatencySummary & { rate_per_s: number; deliveries: number; expected: number };
  client_cpu_pct: number;
  client_sys_pct: number;
  /** Frames per receiver TCP read: how much data had piled up per socket (server write batching, client lag). */
  frames_per_read: number;
  /** Deliveries that never arrived (given up on, or still missing after the last drain), over the whole run. */
  lost: number;
}

type Phase = "setup" | "saturate" | "drain" | "paced" | "done";
const RING = 1 << 14; // > window: per-seq receive counts and send times
const MASK = RING - 1;

export class WindowedLoad {
  phase: Phase = "setup";
  private readonly counts = new Uint32Array(RING);
  private readonly sentAt = new Float64Array(RING);
  private sent = 0; // highest seq sent
  private completed = 0; // every seq <= completed has reached every receiver or been given up on
  private t0 = Infinity; // measurement interval [t0, t1) on the clock
  private t1 = Infinity;
  private deliveries = 0;
  private pacedFirstSeq = Infinity;
  private pacedDeliveries = 0;
  private frameBytes = 0;
  private reads = 0; // TCP reads of all receivers inside the measurement interval
  private lost = 0;
  // Latencies in 10 µs buckets up to 2 s.
  private readonly satHist = new Histogram(200_000);
  private readonly pacedHist = new Histogram(200_000);
  private readonly R: number;

  constructor(
    private readonly cfg: WindowedLoadConfig,
    private readonly o: WindowedLoadOptions,
  ) {
    this.R = cfg.receivers;
    const lossTimeoutMs = o.lossTimeoutMs;
    if (lossTimeoutMs !== null) {
      // Gives up on the oldest in-flight message once it is lossTimeoutMs old.
      setInterval(() => {
        if (this.phase === "setup" || this.phase === "done") return;
        const now = o.clock();
        let gaveUp = false;
        while (this.completed < this.sent && now - this.sentAt[(this.completed + 1) & MASK]! > lossTimeoutMs) {
          this.completeThrough(this.completed + 1);
          gaveUp = true;
        }
        if (gaveUp) this.pump();
      }, 50).unref();
    }
  }

  /** A receiver's TCP read at `now`. */
  onRead(now: number): void {
    if (now >= this.t0 && now < this.t1) this.reads++;
  }

  /** One delivered message: `seq` and the embedded send time `t`, read from the frame by the receiver. */
  onMessage(seq: number, t: number, bytes: number, now: number): void {
    if (now >= this.t0 && now < this.t1) {
      this.deliveries++;
      this.satHist.add(now - t);
      this.frameBytes = bytes;
    } else if (seq >= this.pacedFirstSeq) {
      this.pacedDeliveries++;
      this.pacedHist.add(now - t);
    }
    if (seq <= this.completed) return; // arrived after it was given up on: delivered, but no longer counted in flight
    const slot = seq & MASK;
    if (++this.counts[slot]! === this.R) {
      this.completeThrough(seq);
      this.pump();
    }
  }

  /** Marks seq complete, and every earlier one still in flight: those are lost for the receivers that lack them
   * (completions happen in order otherwise: each receiver gets the messages in order). */
  private completeThrough(seq: number): void {
    for (let s = this.completed + 1; s < seq; s++) {
      this.lost += this.R - this.counts[s & MASK]!;
      this.counts[s & MASK] = 0;
    }
    this.lost += this.R - this.counts[seq & MASK]!;
    this.counts[seq & MASK] = 0;
    this.completed = seq;
  }

  private send(): void {
    this.sent++;
    const now = this.o.clock();
    this.sentAt[this.sent & MASK] = now;
    this.o.send(this.sent, now);
  }

  private pump(): void {
    if (this.phase !== "saturate") return;
    if (this.o.clock() >= this.t1) return;
    if (this.cfg.window - (this.sent - this.completed) < this.cfg.batch) return;
    while (this.sent - this.completed < this.cfg.window) this.send();
  }

  private async waitDrained(timeoutMs: number): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.completed < this.sent && performance.now() < end) await sleep(5);
  }

  async run(): Promise<WindowedLoadFigures> {
    const { cfg, o } = this;
    // Saturated phase: warm-up, then the measurement interval.
    this.phase = "saturate";
    this.t0 = o.clock() + cfg.warmupMs;
    this.t1 = this.t0 + cfg.durationMs;
    this.pump();
    await sleep(cfg.warmupMs);
    const cpu0 = process.cpuUsage();
    emit({ event: "measure_start" });
    while (o.clock() < this.t1) await sleep(Math.max(1, this.t1 - o.clock()));
    const cpu = process.cpuUsage(cpu0);
    emit({ event: "measure_end" });
    this.phase = "drain";
    const published = this.sent;
    await this.waitDrained(o.drainMs);
    if (this.completed < this.sent) fail(`saturated phase: ${this.sent - this.completed} ${o.unit} still in flight after the drain`);

    // Paced phase: one message every 1/rate s.
    await sleep(100);
    this.phase = "paced";
    this.pacedFirstSeq = this.sent + 1;
    const interval = 1000 / cfg.pacedRate;
    const pacedStart = performance.now();
    emit({ event: "paced_start" });
    let n = 0;
    while (performance.now() - pacedStart < cfg.pacedMs) {
      const due = pacedStart + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      n++;
      this.send();
    }
    await this.waitDrained(o.drainMs);
    emit({ event: "paced_end", elapsed_ms: performance.now() - pacedStart });
    this.lost += (this.sent - this.completed) * this.R;
    this.phase = "done";

    const measuredS = cfg.durationMs / 1000;
    const { deliveries, R } = this;
    return {
      frame_bytes: this.frameBytes,
      measured_s: measuredS,
      published,
      deliveries,
      deliveries_per_s: Math.round(deliveries / measuredS),
      per_receiver_per_s: Math.round(deliveries / R / measuredS),
      saturated: this.satHist.summary(),
      paced: { ...this.pacedHist.summary(), rate_per_s: cfg.pacedRate, deliveries: this.pacedDeliveries, expected: n * R },
      client_cpu_pct: Math.round(((cpu.user + cpu.system) / 1000 / cfg.durationMs) * 1000) / 10,
      client_sys_pct: Math.round((cpu.system / 1000 / cfg.durationMs) * 1000) / 10,
      frames_per_read: Math.round((deliveries / Math.max(1, this.reads)) * 100) / 100,
      lost: this.lost,
    };
  }
}
