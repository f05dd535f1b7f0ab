import type { Database, Statement } from "bun:sqlite";
import { z } from "zod";
import { API_KEY_FORMAT_HINT, apiKeyMatches, generateApiKey, hashApiKey, parseApiKey } from "../auth/api-key";

export const ApiKeyName = z.string().min(1).max(100).regex(/^[A-Za-z0-9._@-]+$/, "letters, digits and . _ @ - only");

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** ms since the epoch. */
  created_at: number;
  /** ms since the epoch; null while the key is live. */
  revoked_at: number | null;
}

/** Why the store refused: `invalid` (a bad name or key), `conflict` (a live key has that name, or the id is taken). */
export class ApiKeyError extends Error {
  constructor(
    readonly code: "invalid" | "conflict",
    message: string,
  ) {
    super(message);
  }
}

type Row = ApiKeyInfo & { hash: string };

/** Compared against when no live key has the presented id, so that every verification costs one comparison. */
const DUMMY_HASH = hashApiKey(generateApiKey().key);

/** Machine API keys, kept only as SHA-256 hashes. A revoked key stays listed (with revoked_at) and its id is never
 * reused; its name may be given to a new key. */
export class ApiKeyStore {
  private readonly getStmt: Statement;
  private readonly liveStmt: Statement;
  private readonly liveByNameStmt: Statement;
  private readonly listStmt: Statement;
  private readonly insertStmt: Statement;
  private readonly revokeStmt: Statement;

  constructor(private readonly db: Database) {
    this.getStmt = db.query("SELECT * FROM api_keys WHERE id = ?1");
    this.liveStmt = db.query("SELECT * FROM api_keys WHERE id = ?1 AND revoked_at IS NULL");
    this.liveByNameStmt = db.query("SELECT * FROM api_keys WHERE name = ?1 AND revoked_at IS NULL");
    this.listStmt = db.query("SELECT * FROM api_keys ORDER BY created_at, name, id");
    this.insertStmt = db.query("INSERT INTO api_keys (id, name, hash, created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, NULL)");
    this.revokeStmt = db.query("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
  }

  /** A new key named `name`; the key itself is returned here once and never stored. */
  issue(name: string): ApiKeyInfo & { key: string } {
    for (;;) {
      const { id, key } = generateApiKey();
      // 32 random bits: a clash with an existing id is rare, and answered by drawing again.
      const info = this.insert(name, id, key);
      if (info) return { ...info, key };
    }
  }

  /** Installs an existing key (the same key on every instance of a scaled-out hub). */
  add(name: string, key: string): ApiKeyInfo {
    const parsed = parseApiKey(key);
    if (!parsed) throw new ApiKeyError("invalid", `not an API key: expected ${API_KEY_FORMAT_HINT}`);
    const info = this.insert(name, parsed.id, key);
    if (!info) throw new ApiKeyError("conflict", `an API key with id ${parsed.id} is already installed (or was, and is revoked)`);
    return info;
  }

  /** Oldest first; keys made in the same millisecond by name (ids are random, so they would order at random). */
  list(): ApiKeyInfo[] {
    return (this.listStmt.all() as Row[]).map(toInfo);
  }

  /** Revokes the live key with this id (or, failing that, this name); null if there is none. */
  revoke(idOrName: string): ApiKeyInfo | null {
    return this.db.transaction(() => {
      const row = (this.liveStmt.get(idOrName) ?? this.liveByNameStmt.get(idOrName)) as Row | null;
      if (!row) return null;
      const now = Date.now();
      this.revokeStmt.run(row.id, now);
      return { ...toInfo(row), revoked_at: now };
    })();
  }

  /** The live key that `key` is, or null (malformed, unknown, revoked, or a wrong secret). */
  verify(key: string): ApiKeyInfo | null {
    const parsed = parseApiKey(key);
    if (!parsed) return null;
    const row = this.liveStmt.get(parsed.id) as Row | null;
    const ok = apiKeyMatches(key, row?.hash ?? DUMMY_HASH);
    return row && ok ? toInfo(row) : null;
  }

  isLive(id: string): boolean {
    return this.liveStmt.get(id) !== null;
  }

  /** Null when the id is taken. Immediate: another process (the CLI beside a server) cannot slip in between. */
  private insert(name: string, id: string, key: string): ApiKeyInfo | null {
    if (!ApiKeyName.safeParse(name).success) {
      throw new ApiKeyError("invalid", `bad API key name ${JSON.stringify(name)}: 1-100 letters, digits and . _ @ - only`);
    }
    return this.db.transaction((): ApiKeyInfo | null => {
      if (this.getStmt.get(id)) return null;
      if (this.liveByNameStmt.get(name)) throw new ApiKeyError("conflict", `a live API key is named ${name}: revoke it first, or choose another name`);
      const info: ApiKeyInfo = { id, name, created_at: Date.now(), revoked_at: null };
      this.insertStmt.run(id, name, hashApiKey(key), info.created_at);
      return info;
    }).immediate();
  }
}

function toInfo(r: Row): ApiKeyInfo {
  return { id: r.id, name: r.name, created_at: r.created_at, revoked_at: r.revoked_at };
}
