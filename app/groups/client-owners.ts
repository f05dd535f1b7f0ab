import type { RedisClient } from "bun";

/** Which account each /v3 client id belongs to: the first account that connected with it keeps it, so another
 * account can neither take over its connection nor receive its direct messages. A binding lapses after `idleMs`
 * without a connection or heartbeat (the store stays bounded). */
export interface ClientOwners {
  /** Binds `client` to `account` unless it is bound already; resolves with the owner after the claim. */
  claim(client: string, account: string): Promise<string>;
  /** The owner is still there: its binding's idle time starts again. */
  refresh(client: string, account: string): Promise<void>;
}

export const OWNER_IDLE_MS = 30 * 86_400_000;

/** In one process (the appliance). */
export class MemoryClientOwners implements ClientOwners {
  private readonly owners = new Map<string, { account: string; seen: number }>();

  constructor(
    private readonly idleMs = OWNER_IDLE_MS,
    /** Past this many bindings the idle ones are swept (and, if none is idle, the oldest go). */
    private readonly max = 100_000,
  ) {}

  async claim(client: string, account: string): Promise<string> {
    const now = Date.now();
    const held = this.owners.get(client);
    if (held && now - held.seen < this.idleMs) {
      if (held.account === account) held.seen = now;
      return held.account;
    }
    if (this.owners.size >= this.max) this.sweep(now);
    // Re-inserted at the end: the map's order is the order of last claims, oldest first.
    this.owners.delete(client);
    this.owners.set(client, { account, seen: now });
    return account;
  }

  async refresh(client: string, account: string): Promise<void> {
    const held = this.owners.get(client);
    if (held?.account === account) held.seen = Date.now();
  }

  private sweep(now: number): void {
    for (const [client, o] of this.owners) if (now - o.seen >= this.idleMs) this.owners.delete(client);
    for (const client of this.owners.keys()) {
      if (this.owners.size < this.max) break;
      this.owners.delete(client);
    }
  }
}

const ownerKey = (client: string) => `skynode:v3:owner:${client}`;

/** Shared by the instances of a scaled-out hub: one key per client id, set only if absent, expiring when idle. */
export class RedisClientOwners implements ClientOwners {
  constructor(
    private readonly redis: RedisClient,
    private readonly idleMs = OWNER_IDLE_MS,
  ) {}

  async claim(client: string, account: string): Promise<string> {
    const key = ownerKey(client);
    const set = await this.redis.send("SET", [key, account, "NX", "PX", String(this.idleMs)]);
    if (set !== null) return account;
    const owner = (await this.redis.send("GET", [key])) as string | null;
    // Lapsed between the two commands: claim again.
    if (owner === null) return this.claim(client, account);
    if (owner === account) await this.redis.send("PEXPIRE", [key, String(this.idleMs)]);
    return owner;
  }

  async refresh(client: string, account: string): Promise<void> {
    const key = ownerKey(client);
    if ((await this.redis.send("GET", [key])) === account) await this.redis.send("PEXPIRE", [key, String(this.idleMs)]);
  }
}
