import { statfsSync } from "node:fs";
import type { WriteBehind } from "./write-behind";

export type StorageState = "ok" | "degraded" | "full";

/** The telescope snapshot's `storage` (a contract: these names exactly). */
export interface StorageStatus {
  state: StorageState;
  /** Free space on the data dir's filesystem for this process's user (null when it cannot be read). */
  free_bytes: number | null;
  last_error: string | null;
}

const MB = 1024 * 1024;

/** The data dir's storage as the SkyNode reports it and acts on it: "full" when a write failed for lack of space and
 * none has succeeded since, or free space is below `[store] min_free_mb`; "degraded" while writes wait in memory or
 * fail otherwise; "ok" again by itself once they succeed. */
export class StorageMonitor {
  readonly minFreeBytes: number;

  constructor(
    private readonly dataDir: string,
    private readonly writes: WriteBehind,
    private readonly minFreeMb: number,
  ) {
    this.minFreeBytes = minFreeMb * MB;
  }

  freeBytes(): number | null {
    try {
      const s = statfsSync(this.dataDir);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      return null;
    }
  }

  /** Why a new exposure must not start (too little free space), or null. */
  shortage(): string | null {
    const free = this.freeBytes();
    if (free === null || free >= this.minFreeBytes) return null;
    return `only ${formatMb(free)} MB free on the data disk (needs ${this.minFreeMb} MB: [store] min_free_mb)`;
  }

  status(): StorageStatus {
    const h = this.writes.health();
    const free = this.freeBytes();
    const full = h.fault?.kind === "full" || (free !== null && (free < this.minFreeBytes || free === 0));
    const state: StorageState = full ? "full" : h.pending > 0 || h.fault ? "degraded" : "ok";
    return { state, free_bytes: free, last_error: h.lastError };
  }
}

const formatMb = (bytes: number): string => {
  const mb = bytes / MB;
  return mb < 10 ? (Math.floor(mb * 10) / 10).toString() : Math.floor(mb).toString();
};
