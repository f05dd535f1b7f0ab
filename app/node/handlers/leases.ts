import { CommandFailure } from "../command-failure";
import type { Handler } from "../executor";
import type { LeaseKeeper } from "../lease-keeper";

/** Lease commands. Acquire pauses the automation (its exposure aborted cleanly) before the lease is granted;
 * release, expiry and abort let it resume. Abort (owner only, checked by the hub) stops all motion first. */
export function leaseHandlers(leases: LeaseKeeper, maxLeaseS: number, hooks: { pauseAutomation(): Promise<void>; stopAll(reason: string): Promise<string[]> }) {
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
  return {
    "manual_control_lease.acquire": {
      devices: () => [],
      validate: (c) => requireDuration(c.duration_s),
      async run(c, ctx) {
        const holder = ctx.record?.origin.sub ?? "unknown";
        const current = leases.active();
        if (current && current.holder !== holder) {
          throw new CommandFailure("conflict", `the lease is held by ${current.holder} until ${current.expires_at}`, {
            holder: current.holder,
            expires_at: current.expires_at,
          });
        }
        await hooks.pauseAutomation();
        const l = leases.grant(holder, c.duration_s, c.purpose);
        return { lease_id: l.lease_id, holder: l.holder, ...(l.purpose !== undefined ? { purpose: l.purpose } : {}), expires_at: l.expires_at };
      },
    } satisfies Handler<"manual_control_lease.acquire">,
    "manual_control_lease.renew": {
      devices: () => [],
      validate: (c) => requireDuration(c.duration_s),
      async run(c, ctx) {
        const l = requireLease(c.lease_id);
        if (ctx.record && l.holder !== ctx.record.origin.sub) {
          throw new CommandFailure("forbidden", `only the holder (${l.holder}) may renew lease ${c.lease_id}`);
        }
        const renewed = leases.renew(c.duration_s);
        return { lease_id: renewed.lease_id, holder: renewed.holder, ...(renewed.purpose !== undefined ? { purpose: renewed.purpose } : {}), expires_at: renewed.expires_at };
      },
    } satisfies Handler<"manual_control_lease.renew">,
    "manual_control_lease.release": {
      devices: () => [],
      async run(c) {
        const l = requireLease(c.lease_id);
        leases.end("released");
        return { lease_id: l.lease_id, state: "released" };
      },
    } satisfies Handler<"manual_control_lease.release">,
    "system.abort_manual_control": {
      devices: () => [],
      async run(c) {
        const l = requireLease(c.lease_id);
        const stopped = await hooks.stopAll(`manual control aborted by an owner (lease ${c.lease_id})`);
        leases.end("revoked");
        return { lease_id: l.lease_id, state: "revoked", holder: l.holder, stopped };
      },
    } satisfies Handler<"system.abort_manual_control">,
  };
}
