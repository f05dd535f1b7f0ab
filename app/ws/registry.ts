import type { Principal } from "../auth/principal";

/** What the registry knows of an open connection: who it is, and how to close it. */
export interface Registered {
  readonly principal: Principal;
  /** The machine key a /v3 connection came in with. */
  readonly apiKeyId?: string;
  close(code: number, reason: string): void;
}

export const SESSION_ENDED = { code: 4003, reason: "this session has ended (the account was changed or removed): sign in again" } as const;
export const SIGNED_OUT = { code: 4003, reason: "this session was signed out: sign in again" } as const;
export const TOKEN_EXPIRED = { code: 4003, reason: "the token expired: connect again with a new one" } as const;
export const KEY_REVOKED = { code: 4003, reason: "the api_key of this connection was revoked" } as const;

/** setTimeout's longest delay; a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Every open connection of every endpoint, under its account, its token and its key: a changed or removed account,
 * a sign-out or a revoked key closes all of that one's sockets wherever they are, and a token's expiry closes its
 * sockets at that moment. */
export class ConnectionRegistry {
  private readonly all = new Set<Registered>();
  private readonly byAccount = new Map<string, Set<Registered>>();
  private readonly byToken = new Map<string, Set<Registered>>();
  private readonly timers = new Map<Registered, ReturnType<typeof setTimeout>>();

  get size(): number {
    return this.all.size;
  }

  /** Registers an open connection; the returned function forgets it (call it from the close handler). */
  add(entry: Registered): () => void {
    const p = entry.principal;
    this.all.add(entry);
    // Only sign-in sessions belong to an account; tokens from `token issue` outlive account changes by design.
    if (p.account) index(this.byAccount, p.sub, entry);
    if (p.tokenId) index(this.byToken, p.tokenId, entry);
    if (p.expiresAt !== undefined) this.arm(entry, p.expiresAt);
    return () => this.remove(entry);
  }

  /** The account was changed or removed: its sign-in sessions have ended. */
  closeAccount(name: string): void {
    closeAll(this.byAccount.get(name), SESSION_ENDED);
  }

  /** One session ended (signed out). */
  closeToken(tokenId: string): void {
    closeAll(this.byToken.get(tokenId), SIGNED_OUT);
  }

  closeApiKey(apiKeyId: string): void {
    closeAll([...this.all].filter((e) => e.apiKeyId === apiKeyId), KEY_REVOKED);
  }

  private remove(entry: Registered): void {
    if (!this.all.delete(entry)) return;
    const p = entry.principal;
    if (p.account) unindex(this.byAccount, p.sub, entry);
    if (p.tokenId) unindex(this.byToken, p.tokenId, entry);
    clearTimeout(this.timers.get(entry));
    this.timers.delete(entry);
  }

  private arm(entry: Registered, expiresAt: number): void {
    const delay = expiresAt - Date.now();
    if (delay <= 0) return void entry.close(TOKEN_EXPIRED.code, TOKEN_EXPIRED.reason);
    const timer = setTimeout(() => {
      this.timers.delete(entry);
      if (this.all.has(entry)) this.arm(entry, expiresAt);
    }, Math.min(delay, MAX_TIMER_MS));
    timer.unref?.();
    this.timers.set(entry, timer);
  }
}

function index(map: Map<string, Set<Registered>>, key: string, entry: Registered): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(entry);
}

function unindex(map: Map<string, Set<Registered>>, key: string, entry: Registered): void {
  const set = map.get(key);
  set?.delete(entry);
  if (set?.size === 0) map.delete(key);
}

function closeAll(entries: Iterable<Registered> | undefined, why: { code: number; reason: string }): void {
  // A copy: close handlers remove entries while this loops.
  for (const e of [...(entries ?? [])]) e.close(why.code, why.reason);
}
