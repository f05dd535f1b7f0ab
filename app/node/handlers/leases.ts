import type { LeaseState } from "../../protocol";
import { CommandFailure } from "../command-failure";
import type { Handler, RunContext } from "../executor";
import type { LeaseKeeper } from "../lease-keeper";

/** Lease commands. Acquire pauses the automation (its exposure aborted cleanly) before the lease is granted;
 * release, expiry and abort let it resume. Abort (owner only, checked by the hub) stops all motion first.
 *
 * They run one at a time, in arrival order, and each decides on the lease as it stands after its own awaits: two
 * users acquiring at once while a task runs both pass the hub (no lease yet) and both wait for the pause here, but
 * only the first is granted; the second finds the lease held and is `conflict`.
 *
 * `max_lease_s` bounds a lease's whole life, counted from its acquisition: a renewal that would run past
 * acquired_at + max_lease_s is refused (`invalid`, naming until when it may run and for how long it may still be
 * renewed), never silently shortened. A re-acquire by the holder continues the same life. */
export function leaseHandlers(leases: LeaseKeeper, maxLeaseS: number, hooks: { pauseAutomation(): Promise<void>; stopAll(reason: string): Promise<string[]> }) {
  const serially = serialQueue();
  const maxMs = maxLeaseS * 1000;
  const requireDuration = (duration_s: number) => {
    if (duration_s > maxLeaseS) {
      throw new CommandFailure("invalid", `duration_s ${duration_s} exceeds this telescope's maximum lease of ${maxLeaseS} s`, { max_duration_s: maxLeaseS });
    }
  };
  const requireLease = (lease_id: string) => {
    const l = leases.active();
    if (!l || l.lease_id !== lease_id) {
      throw new CommandFailure("not_found", l ? `lease ${lease_id} is not the active lease` : `no active lease (${lease_id} has ended)`);
    }
    return l;
  };
  const requireFree = (holder: string) => {
    const current = leases.active();
    if (current && current.holder !== holder) {
      throw new CommandFailure("conflict", `the lease is held by ${current.holder} until ${current.expires_at}`, {
        holder: current.holder,
        expires_at: current.expires_at,
      });
    }
    return current;
  };
  /** When `l`'s life began. A lease from before acquisition times were recorded may run no longer than it already
   * does: its life is taken to end at its current expiry. */
  const acquiredMs = (l: LeaseState) => (l.acquired_at !== undefined ? Date.parse(l.acquired_at) : Date.parse(l.expires_at) - maxMs);
  /** Refuses to run lease `lease_id` (acquired at `acquiredAt`) for `duration_s` more from now past its life. */
  const requireWithinLife = (lease_id: string, acquiredAt: number, duration_s: number) => {
    const now = Date.now();
    const until = acquiredAt + maxMs;
    if (now + duration_s * 1000 <= until) return;
    const left = Math.max(0, Math.floor((until - now) / 1000));
    throw new CommandFailure(
      "invalid",
      `lease ${lease_id} may run until ${new Date(until).toISOString()} (max_lease_s ${maxLeaseS} from its acquisition at ${new Date(acquiredAt).toISOString()}): ` +
        (left >= 1 ? `renew it for at most ${left} s` : "release it and acquire a new lease"),
      { max_expires_at: new Date(until).toISOString(), max_duration_s: left, acquired_at: new Date(acquiredAt).toISOString() },
    );
  };
  const grant = (l: LeaseState) => ({
    lease_id: l.lease_id,
    holder: l.holder,
    ...(l.purpose !== undefined ? { purpose: l.purpose } : {}),
    expires_at: l.expires_at,
    ...(l.acquired_at !== undefined ? { acquired_at: l.acquired_at } : {}),
  });
  return {
    "manual_control_lease.acquire": {
      devices: () => [],
      validate: (c) => requireDuration(c.duration_s),
      run: (c, ctx) =>
        serially(ctx, async () => {
          const holder = ctx.record?.origin.sub ?? "unknown";
          requireFree(holder);
          await hooks.pauseAutomation();
          ctx.check();
          // Decided now, not before the pause: the lease may have changed hands meanwhile (the hub's stream).
          const own = requireFree(holder);
          const acquiredAt = own ? acquiredMs(own) : Date.now();
          if (own) requireWithinLife(own.lease_id, acquiredAt, c.duration_s);
          return grant(leases.grant(holder, c.duration_s, c.purpose, acquiredAt));
        }),
    } satisfies Handler<"manual_control_lease.acquire">,
    "manual_control_lease.renew": {
      devices: () => [],
      validate: (c) => requireDuration(c.duration_s),
      run: (c, ctx) =>
        serially(ctx, async () => {
          const l = requireLease(c.lease_id);
          if (ctx.record && l.holder !== ctx.record.origin.sub) {
            throw new CommandFailure("forbidden", `only the holder (${l.holder}) may renew lease ${c.lease_id}`);
          }
          requireWithinLife(l.lease_id, acquiredMs(l), c.duration_s);
          return grant(leases.renew(c.duration_s));
        }),
    } satisfies Handler<"manual_control_lease.renew">,
    "manual_control_lease.release": {
      devices: () => [],
      run: (c, ctx) =>
        serially(ctx, async () => {
          const l = requireLease(c.lease_id);
          leases.end("released");
          return { lease_id: l.lease_id, state: "released" };
        }),
    } satisfies Handler<"manual_control_lease.release">,
    "system.abort_manual_control": {
      devices: () => [],
      run: (c, ctx) =>
        serially(ctx, async () => {
          requireLease(c.lease_id);
          const stopped = await hooks.stopAll(`manual control aborted by an owner (lease ${c.lease_id})`);
          // Whatever was decided during the stop, the lease ended here is the one active now.
          const l = requireLease(c.lease_id);
          leases.end("revoked");
          return { lease_id: l.lease_id, state: "revoked", holder: l.holder, stopped };
        }),
    } satisfies Handler<"system.abort_manual_control">,
  };
}

/** Runs jobs one after another in arrival order; a job canceled while it waited ends without running. */
function serialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(ctx: RunContext, job: () => Promise<T>): Promise<T> => {
    const turn = tail.then(() => {
      ctx.check();
      return job();
    });
    // The next job waits for this one to settle, whatever its outcome; the outcome itself goes to this caller.
    tail = turn.catch(() => {});
    return turn;
  };
}
