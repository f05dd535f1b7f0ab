// Sign-out on the server: a revoked session's token id is refused by UserStore.sessionValid (what every endpoint's
// authentication consults), survives reopening the store, and is forgotten once the token would have expired anyway.
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { issueToken, principalFromToken } from "../../app/auth/principal";
import { openDatabase } from "../../app/store/database";
import { RevokedTokens } from "../../app/store/revoked-tokens";
import { UserStore } from "../../app/store/users";
import { freshDirs } from "../helpers/temp-dirs";

const dirs = freshDirs();
const open: Database[] = [];
afterAll(() => open.forEach((db) => db.close()));
const db = (dir: string) => {
  const d = openDatabase(dir);
  open.push(d);
  return d;
};
const key = crypto.getRandomValues(new Uint8Array(32));

describe("session revocation", () => {
  test("a signed-out session is invalid at once and after the store is reopened; the account's other sessions are not", async () => {
    const dir = dirs();
    const users = new UserStore(db(dir));
    expect(await users.create({ name: "sam", role: "operator", telescopes: null, password: "sam password" })).toBe(true);
    const version = users.get("sam")!.updated_at;
    const session = () => principalFromToken(issueToken(key, { sub: "sam", role: "operator", ttlSec: 3600, accountVersion: version }), key)!;
    const a = session();
    const b = session();
    expect(a.tokenId).not.toBe(b.tokenId);
    expect(users.sessionValid(a)).toBe(true);
    users.revokeSession(a);
    expect(users.sessionValid(a)).toBe(false);
    expect(users.sessionValid(b)).toBe(true);
    expect(new UserStore(db(dir)).sessionValid(a)).toBe(false);
    // A session token without an id could never be signed out: it is not taken.
    const { tokenId: _, ...anonymous } = b;
    expect(users.sessionValid(anonymous)).toBe(false);
  });

  test("rows are pruned once their token is past its expiry", () => {
    const revoked = new RevokedTokens(db(dirs()));
    const now = Date.now();
    revoked.revoke("gone", now - 1);
    revoked.revoke("live", now + 60_000);
    // Revoking prunes what is past: "gone" went when "live" was added.
    expect(revoked.isRevoked("gone")).toBe(false);
    expect(revoked.isRevoked("live")).toBe(true);
    expect(revoked.prune(now + 60_001)).toBe(1);
    expect(revoked.isRevoked("live")).toBe(false);
  });
});
