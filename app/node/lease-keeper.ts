import type { Logger } from "pino";
import type { LeaseState } from "../protocol";
import { Signal } from "../../hal/signal";

/** The SkyNode's view of its telescope's manual-control lease. It grants and ends leases (the results of its lease
 * commands), and learns the hub's view from the lease stream (restored leases after a restart, expiry). Whoever
 * needs to know (automation, snapshots) listens to `changed`. */
export class LeaseKeeper {
  readonly changed = new Signal<void>();
  private lease: LeaseState | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly log: Logger) {}

  active(): LeaseState | null {
    const l = this.lease;
    return l && l.state === "active" && Date.parse(l.expires_at) > Date.now() ? l : null;
  }

  /** A new lease; `acquiredAtMs` (default now) is when its life began, which renewals are capped from. */
  grant(holder: string, duration_s: number, purpose: string | undefined, acquiredAtMs = Date.now()): LeaseState {
    const lease: LeaseState = {
      state: "active",
      lease_id: `lease-${crypto.randomUUID()}`,
      holder,
      ...(purpose !== undefined ? { purpose } : {}),
      expires_at: new Date(Date.now() + duration_s * 1000).toISOString(),
      acquired_at: new Date(acquiredAtMs).toISOString(),
    };
    this.set(lease);
    return lease;
  }

  renew(duration_s: number): LeaseState {
    const lease = { ...this.active()!, expires_at: new Date(Date.now() + duration_s * 1000).toISOString() };
    this.set(lease);
    return lease;
  }

  end(state: "released" | "revoked"): void {
    const l = this.active();
    if (l) this.set({ ...l, state });
  }

  /** The hub's word (from the lease stream): newer states of the same lease, or a lease this node forgot (after a
   * restart: its acquisition time comes back with it, so max_lease_s still counts from the real start). */
  observe(lease: LeaseState): void {
    const mine = this.lease?.lease_id === lease.lease_id ? this.lease : null;
    if (mine && mine.state !== "active" && lease.state === "active") return;
    // A report without the acquisition time (an older hub) must not make this node forget it.
    const heard = mine?.acquired_at !== undefined && lease.acquired_at === undefined ? { ...lease, acquired_at: mine.acquired_at } : lease;
    if (mine && mine.state === heard.state && mine.expires_at === heard.expires_at && mine.acquired_at === heard.acquired_at) return;
    this.set(heard);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private set(lease: LeaseState): void {
    this.lease = lease;
    clearTimeout(this.timer);
    if (lease.state === "active") {
      const delay = Math.max(0, Date.parse(lease.expires_at) - Date.now());
      this.timer = setTimeout(() => {
        this.log.info({ lease_id: lease.lease_id, holder: lease.holder }, "manual control lease expired");
        this.changed.emit();
      }, delay + 5);
      this.timer.unref?.();
    }
    this.changed.emit();
  }
}
