import { reachesTelescope, type Principal } from "../auth/principal";
import type { CommandType } from "../protocol";
import { RequestError } from "./connection";
import { toSet, type Filter } from "./fanout";
import type { ActiveLease } from "./lease-book";

/** Who may do what (DESIGN.md §2). Each check throws `forbidden` with the reason, so handlers read as a list. */

export function requireTelescope(p: Principal, telescopeUid: string): void {
  if (!reachesTelescope(p, telescopeUid)) {
    throw new RequestError("forbidden", `your token does not grant access to telescope ${telescopeUid}`);
  }
}

export function requirePublisherFor(p: Principal, telescopeUid: string): void {
  if (p.role !== "skynode") throw new RequestError("forbidden", "only a SkyNode (role skynode) may publish this");
  requireTelescope(p, telescopeUid);
}

export const isOwner = (p: Principal) => p.role === "owner" || p.role === "admin";

/** Command rights: acquire is open to operators; abort is owner-only; everything else needs the lease or owner. */
export function requireCommandAuthority(p: Principal, telescopeUid: string, type: CommandType, lease: ActiveLease | null): void {
  requireTelescope(p, telescopeUid);
  if (p.role === "viewer" || p.role === "skynode") {
    throw new RequestError("forbidden", `role ${p.role} may not publish commands`);
  }
  if (type === "system.abort_manual_control") {
    if (!isOwner(p)) throw new RequestError("forbidden", "only an owner may force-revoke a lease");
    return;
  }
  if (type === "manual_control_lease.acquire") return;
  if (isOwner(p)) return;
  if (!lease) throw new RequestError("forbidden", `no active manual control lease on ${telescopeUid}: acquire one first`);
  if (lease.holder !== p.sub) {
    throw new RequestError("forbidden", `the manual control lease on ${telescopeUid} is held by ${lease.holder}`, {
      holder: lease.holder,
      expires_at: lease.expires_at,
    });
  }
}

/** A token restricted to some telescopes only ever subscribes within them; naming another is `forbidden`. */
export function scopedFilter(p: Principal, filter: { [k in keyof Filter]?: string | string[] } | undefined): Filter {
  let telescopes = toSet(filter?.telescope_uid);
  if (telescopes) for (const uid of telescopes) requireTelescope(p, uid);
  else if (p.telescopes) telescopes = p.telescopes;
  return {
    telescope_uid: telescopes,
    device_uid: toSet(filter?.device_uid),
    device_type: toSet(filter?.device_type),
    observatory_uid: toSet(filter?.observatory_uid),
  };
}
