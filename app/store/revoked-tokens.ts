import type { Database, Statement } from "bun:sqlite";

/** Tokens ended on the server before they expire (a sign-out), by their id (`jti`). A row is needed only while its
 * token could still verify: rows past their token's expiry are pruned on each revocation and when the store opens. */
export class RevokedTokens {
  private readonly insertStmt: Statement;
  private readonly hasStmt: Statement;
  private readonly pruneStmt: Statement;

  constructor(db: Database) {
    this.insertStmt = db.query("INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2) ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, ?2)");
    this.hasStmt = db.query("SELECT 1 AS yes FROM revoked_tokens WHERE jti = ?1");
    this.pruneStmt = db.query("DELETE FROM revoked_tokens WHERE expires_at <= ?1");
    this.prune();
  }

  /** `expiresAtMs`: when the token would stop verifying anyway (ms since the epoch). */
  revoke(tokenId: string, expiresAtMs: number): void {
    this.prune();
    this.insertStmt.run(tokenId, Math.floor(expiresAtMs));
  }

  isRevoked(tokenId: string): boolean {
    return this.hasStmt.get(tokenId) !== null;
  }

  prune(now = Date.now()): number {
    return this.pruneStmt.run(now).changes;
  }
}
