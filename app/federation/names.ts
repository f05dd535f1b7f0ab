/** Users of the upstream hub act on the appliance as `upstream/NAME`, so that they never collide with the
 * appliance's own accounts; the appliance's users appear upstream as `TELESCOPE/NAME`. The mapping is one-to-one
 * both ways (a name is prefixed once per hop and the prefix removed once on the way back). */
export const UPSTREAM_PREFIX = "upstream/";

export const fromUpstream = (sub: string): string => UPSTREAM_PREFIX + sub;

export function toUpstream(name: string, telescopeUid: string): string {
  return name.startsWith(UPSTREAM_PREFIX) ? name.slice(UPSTREAM_PREFIX.length) : `${telescopeUid}/${name}`;
}

/** A copy of `value` with every `holder` field (lease grants, conflict details, snapshots) renamed for upstream. */
export function holdersToUpstream<T>(value: T, telescopeUid: string): T {
  if (Array.isArray(value)) return value.map((v) => holdersToUpstream(v, telescopeUid)) as T;
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === "holder" && typeof v === "string" ? toUpstream(v, telescopeUid) : holdersToUpstream(v, telescopeUid);
  }
  return out as T;
}
