import type { Database, Statement } from "bun:sqlite";
import type { Role } from "../auth/principal";
import { RevokedTokens } from "./revoked-tokens";

export interface User {
  name: string;
  role: Role;
  /** null: every telescope of this server. */
  telescopes: string[] | null;
  created_at: number;
  updated_at: number;
}

type Row = Omit<User, "telescopes"> & { telescopes: string | null; password_hash: string };

/** Accounts that sign in with a password. Passwords are kept only as Bun.password (argon2id) hashes. */
export class UserStore {
  private readonly countStmt: Statement;
  private readonly getStmt: Statement;
  private readonly listStmt: Statement;
  private readonly insertStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly revoked: RevokedTokens;

  constructor(private readonly db: Database) {
    this.revoked = new RevokedTokens(db);
    this.countStmt = db.query("SELECT count(*) AS n FROM users");
    this.getStmt = db.query("SELECT * FROM users WHERE name = ?1");
    this.listStmt = db.query("SELECT * FROM users ORDER BY name");
    this.insertStmt = db.query("INSERT INTO users (name, role, telescopes, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
    this.deleteStmt = db.query("DELETE FROM users WHERE name = ?1");
  }

  count(): number {
    return (this.countStmt.get() as { n: number }).n;
  }

  get(name: string): User | null {
    const row = this.getStmt.get(name) as Row | null;
    return row ? toUser(row) : null;
  }

  list(): User[] {
    return (this.listStmt.all() as Row[]).map(toUser);
  }

  /** Creates the account; false when the name is taken. `onlyIfNone` makes it the first account or nothing (setup). */
  async create(user: { name: string; role: Role; telescopes: string[] | null; password: string }, onlyIfNone = false): Promise<boolean> {
    const hash = await Bun.password.hash(user.password);
    return this.db.transaction(() => {
      if (onlyIfNone && this.count() > 0) return false;
      if (this.get(user.name)) return false;
      this.insertStmt.run(user.name, user.role, user.telescopes ? JSON.stringify(user.telescopes) : null, hash, Date.now());
      return true;
    })();
  }

  async update(name: string, change: { role?: Role; telescopes?: string[] | null; password?: string }): Promise<User | null> {
    const hash = change.password === undefined ? undefined : await Bun.password.hash(change.password);
    const sets: string[] = [];
    const args: (string | number | null)[] = [];
    if (change.role !== undefined) sets.push("role = ?"), args.push(change.role);
    if (change.telescopes !== undefined) sets.push("telescopes = ?"), args.push(change.telescopes ? JSON.stringify(change.telescopes) : null);
    if (hash !== undefined) sets.push("password_hash = ?"), args.push(hash);
    sets.push("updated_at = ?");
    args.push(Date.now(), name);
    this.db.run(`UPDATE users SET ${sets.join(", ")} WHERE name = ?`, args);
    return this.get(name);
  }

  remove(name: string): boolean {
    return this.deleteStmt.run(name).changes > 0;
  }

  /** A sign-in session of `p` is still good: it was not signed out, and its account exists and has not changed
   * since (role, telescopes and password changes all bump updated_at, the version the session carries). A session
   * token without an id cannot be signed out, so it is not taken. */
  sessionValid(p: { sub: string; account?: { version: number }; tokenId?: string }): boolean {
    if (p.account === undefined || p.tokenId === undefined || this.revoked.isRevoked(p.tokenId)) return false;
    return this.get(p.sub)?.updated_at === p.account.version;
  }

  /** Signs a session out on the server: its token is refused from now on, wherever it is presented. */
  revokeSession(p: { tokenId?: string; expiresAt?: number }): void {
    if (p.tokenId !== undefined) this.revoked.revoke(p.tokenId, p.expiresAt ?? Number.MAX_SAFE_INTEGER);
  }

  /** The account if `password` is its password. A missing account costs a hash verification too, so that timing
   * does not tell which names exist. */
  async verify(name: string, password: string): Promise<User | null> {
    const row = this.getStmt.get(name) as Row | null;
    const ok = await Bun.password.verify(password, row?.password_hash ?? DUMMY_HASH);
    return row && ok ? toUser(row) : null;
  }
}

const DUMMY_HASH = await Bun.password.hash(crypto.randomUUID());

function toUser(r: Row): User {
  return { name: r.name, role: r.role, telescopes: r.telescopes ? JSON.parse(r.telescopes) : null, created_at: r.created_at, updated_at: r.updated_at };
}
