import type { Logger } from "pino";
import type { LeaseState } from "../protocol";
import type { Journal } from "../store/journal";
import { storageFault } from "../store/storage-errors";

export type ActiveLease = LeaseState & { state: "active" };

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 30_000;

/** Each telescope's manual-control lease as the hub derives it from lease command results and from expiry.
 * Every change is journalled (numbered with the telescope's commands) and then announced. A change the journal
 * cannot take now (its database locked or full) holds at once (the result that made it was already recorded and
 * announced), and is journalled, then announced, when the database takes writes again, in order. */
export class LeaseBook {
  private readonly leases = new Map<string, LeaseState>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per telescope: lease changes in force but not yet journalled (nor announced), oldest first. */
  private readonly unjournalled = new Map<string, LeaseState[]>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

  constructor(
    private readonly journal: Journal,
    private readonly announce: (telescopeUid: string, seq: number, lease: LeaseState) => void,
    private readonly log: Logger,
  ) {
    // After a restart: the journal's last word on each lease stands (and an active one still expires on time).
    for (const entry of journal.latestLeases()) {
      const lease = entry.body as LeaseState;
      this.leases.set(entry.telescope_uid, lease);
      if (lease.state === "active") this.schedule(entry.telescope_uid, lease);
      announce(entry.telescope_uid, entry.seq, lease);
    }
  }

  active(telescopeUid: string): ActiveLease | null {
    const lease = this.leases.get(telescopeUid);
    return lease?.state === "active" && Date.parse(lease.expires_at) > Date.now() ? (lease as ActiveLease) : null;
  }

  /** Throws (and changes nothing) only on an error retrying cannot cure. */
  set(telescopeUid: string, lease: LeaseState): void {
    const waiting = this.unjournalled.get(telescopeUid);
    // Behind changes still waiting for the journal, a change waits too: the journal keeps their order.
    const seq = waiting ? null : this.append(telescopeUid, lease);
    if (waiting) waiting.push(lease);
    else if (seq === null) this.unjournalled.set(telescopeUid, [lease]);
    this.leases.set(telescopeUid, lease);
    clearTimeout(this.timers.get(telescopeUid));
    this.timers.delete(telescopeUid);
    if (lease.state === "active") this.schedule(telescopeUid, lease);
    this.log.info({ telescope_uid: telescopeUid, lease }, `lease ${lease.state}`);
    if (seq !== null) this.announce(telescopeUid, seq, lease);
    if (this.unjournalled.size > 0) this.retryLater();
  }

  /** A lease state its telescope's own authority reports (an appliance federated to this hub): taken unless it is
   * what this hub already holds, so a replayed report changes nothing. */
  adopt(telescopeUid: string, lease: LeaseState): void {
    const current = this.leases.get(telescopeUid);
    if (current && current.lease_id === lease.lease_id && current.state === lease.state && current.expires_at === lease.expires_at && current.holder === lease.holder) return;
    // An older report of a lease this hub has already seen end (a replay after a newer live state) is stale.
    if (current && current.lease_id === lease.lease_id && current.state !== "active" && lease.state === "active") return;
    this.set(telescopeUid, lease);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.retryTimer);
    this.flush();
    for (const [uid, waiting] of this.unjournalled) {
      this.log.error({ telescope_uid: uid, leases: waiting }, "lease changes the journal could not take before shutdown are lost");
    }
  }

  /** Journals one change: its seq, or null when the storage refused it for now (retried later). */
  private append(telescopeUid: string, lease: LeaseState): number | null {
    try {
      return this.journal.append(telescopeUid, "lease", null, lease).seq;
    } catch (err) {
      if (!storageFault(err)) throw err;
      this.log.warn({ err: (err as Error).message, telescope_uid: telescopeUid, lease }, "could not journal a lease change: it holds, and is journalled when the database takes writes");
      return null;
    }
  }

  /** Journals and announces one waiting change: false when the storage still refuses it. */
  private record(telescopeUid: string, lease: LeaseState): boolean {
    const seq = this.append(telescopeUid, lease);
    if (seq === null) return false;
    this.announce(telescopeUid, seq, lease);
    return true;
  }

  private flush(): void {
    for (const [uid, waiting] of this.unjournalled) {
      while (waiting.length > 0) {
        let recorded: boolean;
        try {
          recorded = this.record(uid, waiting[0]!);
        } catch (err) {
          this.log.error({ err, telescope_uid: uid, lease: waiting[0] }, "a lease change cannot be journalled: dropped");
          recorded = true;
        }
        if (!recorded) return;
        waiting.shift();
      }
      this.unjournalled.delete(uid);
    }
    this.attempt = 0;
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(this.attempt++, 16));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
      if (this.unjournalled.size > 0) this.retryLater();
    }, delay);
    this.retryTimer.unref?.();
  }

  private schedule(telescopeUid: string, lease: LeaseState): void {
    const delay = Math.max(0, Date.parse(lease.expires_at) - Date.now());
    // setTimeout caps at ~24.8 days; leases are capped at a day by the schema.
    const timer = setTimeout(() => {
      this.timers.delete(telescopeUid);
      const current = this.leases.get(telescopeUid);
      if (current?.state === "active" && current.lease_id === lease.lease_id) {
        try {
          this.set(telescopeUid, { ...current, state: "expired" });
        } catch (err) {
          // Not a storage fault (those are retried): the lease still counts as expired (active() checks the clock).
          this.log.error({ err, telescope_uid: telescopeUid }, "could not journal lease expiry");
        }
      }
    }, delay);
    timer.unref?.();
    this.timers.set(telescopeUid, timer);
  }
}
