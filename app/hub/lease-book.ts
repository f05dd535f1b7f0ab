import type { Logger } from "pino";
import type { LeaseState } from "../protocol";
import type { Journal } from "../store/journal";

export type ActiveLease = LeaseState & { state: "active" };

/** Each telescope's manual-control lease as the hub derives it from lease command results and from expiry.
 * Every change is journalled (numbered with the telescope's commands) and then announced. */
export class LeaseBook {
  private readonly leases = new Map<string, LeaseState>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

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

  set(telescopeUid: string, lease: LeaseState): void {
    const entry = this.journal.append(telescopeUid, "lease", null, lease);
    this.leases.set(telescopeUid, lease);
    clearTimeout(this.timers.get(telescopeUid));
    this.timers.delete(telescopeUid);
    if (lease.state === "active") this.schedule(telescopeUid, lease);
    this.log.info({ telescope_uid: telescopeUid, lease }, `lease ${lease.state}`);
    this.announce(telescopeUid, entry.seq, lease);
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
          // The journal is unwritable: the lease still counts as expired (active() checks the clock).
          this.log.error({ err, telescope_uid: telescopeUid }, "could not journal lease expiry");
        }
      }
    }, delay);
    timer.unref?.();
    this.timers.set(telescopeUid, timer);
  }
}
