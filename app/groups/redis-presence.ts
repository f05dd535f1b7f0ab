import type { RedisClient } from "bun";
import type { PresenceEntry, PresenceStore } from "./presence";

export const presenceKey = (group: string) => `skynode:v3:presence:${group}`;

/** Presence shared by the instances of a scaled-out hub: one sorted set per group, member = client id, score = its
 * expiry, so each member has its own TTL; the key itself expires with its last member, so an abandoned group leaves
 * nothing behind. */
export class RedisPresence implements PresenceStore {
  constructor(private readonly redis: RedisClient) {}

  async refresh(group: string, client: string, expiresAt: number): Promise<void> {
    const key = presenceKey(group);
    await this.redis.send("ZADD", [key, String(expiresAt), client]);
    // Every member has the same TTL, so the latest refresh is the latest expiry.
    await this.redis.send("PEXPIREAT", [key, String(expiresAt)]);
  }

  async remove(group: string, client: string): Promise<void> {
    await this.redis.send("ZREM", [presenceKey(group), client]);
  }

  async list(group: string, now: number): Promise<PresenceEntry[]> {
    const key = presenceKey(group);
    await this.redis.send("ZREMRANGEBYSCORE", [key, "-inf", String(now)]);
    const flat = (await this.redis.send("ZRANGE", [key, `(${now}`, "+inf", "BYSCORE", "WITHSCORES"])) as unknown;
    return pairs(flat).sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
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
