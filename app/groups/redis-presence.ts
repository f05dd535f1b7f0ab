import type { RedisClient } from "bun";
import { reconnections } from "../hub/redis-channel-bus";
import type { PresenceEntry, PresenceStore } from "./presence";

export const presenceKey = (group: string) => `skynode:v3:presence:${group}`;

/** Presence shared by the instances of a scaled-out hub: one sorted set per group, member = client id, score = its
 * expiry, so each member has its own TTL; the key itself expires with its last member, so an abandoned group leaves
 * nothing behind. Each instance remembers its own members' entries and puts them back when Redis returns empty
 * (restarted), instead of leaving them absent until their next heartbeat, which may be an hour away. */
export class RedisPresence implements PresenceStore {
  /** group → client → expiry, of this instance's members. */
  private readonly mine = new Map<string, Map<string, number>>();

  constructor(private readonly redis: RedisClient) {
    reconnections(redis)?.onUp(() => void this.restore().catch(() => {}));
  }

  async refresh(group: string, client: string, expiresAt: number): Promise<void> {
    let members = this.mine.get(group);
    if (!members) this.mine.set(group, (members = new Map()));
    members.set(client, expiresAt);
    const key = presenceKey(group);
    await this.redis.send("ZADD", [key, String(expiresAt), client]);
    // Every member has the same TTL, so the latest refresh is the latest expiry.
    await this.redis.send("PEXPIREAT", [key, String(expiresAt)]);
  }

  async remove(group: string, client: string): Promise<void> {
    const members = this.mine.get(group);
    if (members?.delete(client) && members.size === 0) this.mine.delete(group);
    await this.redis.send("ZREM", [presenceKey(group), client]);
  }

  async list(group: string, now: number): Promise<PresenceEntry[]> {
    const key = presenceKey(group);
    await this.redis.send("ZREMRANGEBYSCORE", [key, "-inf", String(now)]);
    const flat = (await this.redis.send("ZRANGE", [key, `(${now}`, "+inf", "BYSCORE", "WITHSCORES"])) as unknown;
    return pairs(flat).sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
  }

  private async restore(): Promise<void> {
    const now = Date.now();
    for (const [group, members] of this.mine) {
      for (const [client, at] of members) if (at <= now) members.delete(client);
      if (members.size === 0) this.mine.delete(group);
      else {
        const key = presenceKey(group);
        await this.redis.send("ZADD", [key, ...[...members].flatMap(([client, at]) => [String(at), client])]);
        // The other instances put theirs back too: the key lives as long as the latest of all (NX: none set yet).
        const latest = String(Math.max(...members.values()));
        await this.redis.send("PEXPIREAT", [key, latest, "NX"]);
        await this.redis.send("PEXPIREAT", [key, latest, "GT"]);
      }
    }
  }
}

/** WITHSCORES answers [member, score, …] (RESP2) or [[member, score], …] (RESP3). */
function pairs(reply: unknown): PresenceEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: PresenceEntry[] = [];
  if (reply.every((r) => Array.isArray(r))) {
    for (const [m, s] of reply as [unknown, unknown][]) out.push({ client_id: String(m), expires_at: Number(s) });
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2) out.push({ client_id: String(reply[i]), expires_at: Number(reply[i + 1]) });
  }
  return out;
}
