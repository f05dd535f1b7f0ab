/** A group's present clients: client id → expiry (ms since the epoch). Seed 004's presence set with a TTL per
 * member: a heartbeat moves the expiry on; an expired member is no longer listed. */
export interface PresenceEntry {
  client_id: string;
  expires_at: number;
}

export interface PresenceStore {
  /** Adds the client or moves its expiry on. */
  refresh(group: string, client: string, expiresAt: number): Promise<void>;
  remove(group: string, client: string): Promise<void>;
  /** The members whose expiry is after `now`, by client id. */
  list(group: string, now: number): Promise<PresenceEntry[]>;
}

/** In one process (the appliance, or a hub without Redis). */
export class MemoryPresence implements PresenceStore {
  private readonly groups = new Map<string, Map<string, number>>();

  async refresh(group: string, client: string, expiresAt: number): Promise<void> {
    let members = this.groups.get(group);
    if (!members) this.groups.set(group, (members = new Map()));
    members.set(client, expiresAt);
  }

  async remove(group: string, client: string): Promise<void> {
    const members = this.groups.get(group);
    if (members?.delete(client) && members.size === 0) this.groups.delete(group);
  }

  async list(group: string, now: number): Promise<PresenceEntry[]> {
    const members = this.groups.get(group);
    if (!members) return [];
    const out: PresenceEntry[] = [];
    for (const [client_id, expires_at] of members) {
      if (expires_at > now) out.push({ client_id, expires_at });
      else members.delete(client_id);
    }
    return out.sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
  }
}
