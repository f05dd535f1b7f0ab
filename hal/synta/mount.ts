import type { HalLog } from "../log";
import type { Mount } from "../mount";
import type { ByteDuplex } from "../serial/duplex";
import { SyntaAxis } from "./axis";
import { SyntaClient } from "./client";

export interface SyntaAxisConfig {
  /** Axis angle at the board's power-on step count (e.g. hour angle 0, declination +90 at the pole). */
  home_deg: number;
  min: number;
  max: number;
  reverse?: boolean;
}

export interface SyntaMountOptions {
  ra: SyntaAxisConfig;
  dec: SyntaAxisConfig;
  slewRateDegS: number;
  timeoutMs?: number;
  retries?: number;
  log?: HalLog;
}

export interface SyntaMount {
  mount: Mount;
  /** Initialises both axes (see SyntaAxis.init). */
  init(): Promise<void>;
  /** Stops polling and answers what is outstanding; the link stays open (its owner closes it). */
  close(): void;
}

/** An equatorial mount on one Sky-Watcher/Synta motor controller: both axes share one link and one client. */
export function createSyntaMount(link: ByteDuplex, opts: SyntaMountOptions): SyntaMount {
  const client = new SyntaClient(link, { timeoutMs: opts.timeoutMs, retries: opts.retries, log: opts.log });
  const axis = (name: "ra" | "dec", channel: "1" | "2", cfg: SyntaAxisConfig) =>
    new SyntaAxis(client, { name, channel, ...cfg, slewRateDegS: opts.slewRateDegS, log: opts.log });
  const ra = axis("ra", "1", opts.ra);
  const dec = axis("dec", "2", opts.dec);
  return {
    mount: { type: "equatorial", ra, dec },
    async init() {
      await Promise.all([ra.init(), dec.init()]);
    },
    close() {
      ra.close();
      dec.close();
      client.close();
    },
  };
}
