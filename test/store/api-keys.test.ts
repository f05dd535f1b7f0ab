// Machine API keys: the key format, and the store that keeps only their SHA-256 (issue, install, list, revoke,
// verify in constant time).
import { describe, expect, spyOn, test } from "bun:test";
import crypto from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { apiKeyMatches, generateApiKey, hashApiKey, parseApiKey } from "../../app/auth/api-key";
import { ApiKeyError, ApiKeyName, ApiKeyStore } from "../../app/store/api-keys";
import { openDatabase } from "../../app/store/database";
import { freshDirs } from "../helpers/temp-dirs";

const fresh = freshDirs();
const open = () => {
  const dir = fresh();
  const db = openDatabase(dir);
  return { dir, db, keys: new ApiKeyStore(db) };
};

describe("API key format", () => {
  test("sk_<8 hex>_<43 base64url>, random, parsed strictly", () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).toMatch(/^sk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(a.key.startsWith(`sk_${a.id}_`)).toBe(true);
    expect(a.key).not.toBe(b.key);
    expect(Buffer.from(a.key.slice(12), "base64url")).toHaveLength(32);
    expect(parseApiKey(a.key)).toEqual({ id: a.id });
    for (let i = 0; i < 200; i++) {
      const k = generateApiKey();
      expect(parseApiKey(k.key)?.id).toBe(k.id);
    }
    const secret = a.key.slice(12);
    for (const bad of [
      "",
      "sk_",
      a.key + "A",
      a.key.slice(0, -1),
      ` ${a.key}`,
      `${a.key}\n`,
      a.key.replace("sk_", "SK_"),
      `sk_${a.id.toUpperCase().replace(/[0-9]/g, "A")}_${secret}`,
      `sk_${a.id.slice(1)}_${secret}`,
      `sk_${a.id}0_${secret}`,
      `sk_${a.id}_${secret.slice(0, -1)}=`,
      `sk_${a.id}_${secret.slice(0, 42)}+`,
      `pk_${a.id}_${secret}`,
    ]) {
      expect(parseApiKey(bad)).toBeNull();
    }
    // The last character carries two spare bits: only the canonical spelling (spare bits zero) is a key.
    const canonical = `sk_0123abcd_${Buffer.alloc(32, 0xff).toString("base64url")}`;
    expect(canonical.endsWith("8")).toBe(true);
    expect(parseApiKey(canonical)).toEqual({ id: "0123abcd" });
    expect(parseApiKey(canonical.slice(0, -1) + "9")).toBeNull();
  });

  test("the hash is SHA-256 hex of the whole key, compared in constant time", () => {
    const { key } = generateApiKey();
    expect(hashApiKey(key)).toBe(new Bun.CryptoHasher("sha256").update(key).digest("hex"));
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    const spy = spyOn(crypto, "timingSafeEqual");
    try {
      expect(apiKeyMatches(key, hashApiKey(key))).toBe(true);
      expect(apiKeyMatches(generateApiKey().key, hashApiKey(key))).toBe(false);
      expect(apiKeyMatches(key, "not hex")).toBe(false);
      expect(apiKeyMatches(key, hashApiKey(key).slice(2))).toBe(false);
      expect(spy).toHaveBeenCalledTimes(4);
    } finally {
      spy.mockRestore();
    }
  });

  test("names: 1-100 letters, digits and . _ @ -", () => {
    for (const ok of ["a", "ci-bot", "hub.eu_1@example.org", "x".repeat(100)]) expect(ApiKeyName.safeParse(ok).success).toBe(true);
    for (const bad of ["", "x".repeat(101), "a b", "a/b", "ünï", "a\n"]) expect(ApiKeyName.safeParse(bad).success).toBe(false);
  });
});

describe("ApiKeyStore", () => {
  test("issue, verify, list, revoke; a revoked key no longer verifies and its name may be reused", () => {
    const { db, keys } = open();
    const t0 = Date.now();
    const ci = keys.issue("ci");
    expect(parseApiKey(ci.key)).toEqual({ id: ci.id });
    expect(ci).toMatchObject({ name: "ci", revoked_at: null });
    expect(ci.created_at).toBeGreaterThanOrEqual(t0);
    const info = { id: ci.id, name: "ci", created_at: ci.created_at, revoked_at: null };
    expect(keys.verify(ci.key)).toEqual(info);
    expect(keys.isLive(ci.id)).toBe(true);
    const hub = keys.issue("hub");
    expect(keys.list()).toEqual([info, { id: hub.id, name: "hub", created_at: hub.created_at, revoked_at: null }]);

    const revoked = keys.revoke("ci");
    expect(revoked).toMatchObject({ id: ci.id, name: "ci" });
    expect(revoked!.revoked_at).toBeGreaterThanOrEqual(ci.created_at);
    expect(keys.verify(ci.key)).toBeNull();
    expect(keys.isLive(ci.id)).toBe(false);
    expect(keys.revoke("ci")).toBeNull();
    expect(keys.revoke(ci.id)).toBeNull();
    expect(keys.revoke("nobody")).toBeNull();
    expect(keys.list().find((k) => k.id === ci.id)?.revoked_at).toBe(revoked!.revoked_at);

    // By id too; and the name of a revoked key may be given again, to a new key.
    expect(keys.revoke(hub.id)?.name).toBe("hub");
    const again = keys.issue("ci");
    expect(again.id).not.toBe(ci.id);
    expect(keys.verify(again.key)?.id).toBe(again.id);
    expect(keys.verify(ci.key)).toBeNull();
    expect(keys.list()).toHaveLength(3);
    db.close();
  });

  test("verify refuses malformed, unknown and wrong-secret keys, always through the constant-time comparison", () => {
    const { db, keys } = open();
    const k = keys.issue("ci");
    const other = generateApiKey().key;
    const wrongSecret = `sk_${k.id}_${generateApiKey().key.slice(12)}`;
    const spy = spyOn(crypto, "timingSafeEqual");
    try {
      expect(keys.verify(wrongSecret)).toBeNull();
      expect(spy).toHaveBeenCalledTimes(1);
      expect(keys.verify(other)).toBeNull(); // unknown id: compared against a dummy hash all the same
      expect(spy).toHaveBeenCalledTimes(2);
      expect(keys.verify(k.key)?.id).toBe(k.id);
      expect(spy).toHaveBeenCalledTimes(3);
      for (const bad of ["", "sk_", k.key + "x", k.key.toUpperCase(), hashApiKey(k.key)]) expect(keys.verify(bad)).toBeNull();
    } finally {
      spy.mockRestore();
    }
    db.close();
  });

  test("a live name is unique; bad names are refused with a clear error", () => {
    const { db, keys } = open();
    keys.issue("ci");
    expect(() => keys.issue("ci")).toThrow(/live API key is named ci/);
    try {
      keys.issue("ci");
    } catch (err) {
      expect(err).toBeInstanceOf(ApiKeyError);
      expect((err as ApiKeyError).code).toBe("conflict");
    }
    expect(() => keys.issue("")).toThrow(/1-100 letters/);
    expect(() => keys.issue("a b")).toThrow(ApiKeyError);
    expect(() => keys.issue("x".repeat(101))).toThrow(/name/);
    expect(keys.list().map((k) => k.name)).toEqual(["ci"]);
    // The database itself enforces it too (another process writing without this check).
    expect(() => db.run("INSERT INTO api_keys (id, name, hash, created_at) VALUES ('00000000', 'ci', 'h', 1)")).toThrow();
    db.close();
  });

  test("add installs an existing key (the same key on every hub instance), refusing malformed keys and duplicates", () => {
    const a = open();
    const b = open();
    const issued = a.keys.issue("fleet");
    const added = b.keys.add("fleet", issued.key);
    expect(added).toMatchObject({ id: issued.id, name: "fleet", revoked_at: null });
    expect(b.keys.verify(issued.key)).toEqual(added);
    expect(a.keys.verify(issued.key)?.id).toBe(b.keys.verify(issued.key)?.id!);

    expect(() => b.keys.add("other", "sk_nope")).toThrow(/not an API key/);
    expect(() => b.keys.add("other", issued.key)).toThrow(new RegExp(`id ${issued.id} is already installed`));
    expect(() => b.keys.add("fleet", generateApiKey().key)).toThrow(/live API key is named fleet/);
    expect(() => b.keys.add("bad name", generateApiKey().key)).toThrow(/name/);
    // A revoked id stays taken: re-adding a revoked key must not bring it back to life.
    b.keys.revoke("fleet");
    expect(() => b.keys.add("fleet", issued.key)).toThrow(/already installed/);
    expect(b.keys.verify(issued.key)).toBeNull();
    expect(b.keys.list()).toHaveLength(1);
    a.db.close();
    b.db.close();
  });

  test("the database keeps the hash, never the key; keys survive a reopen", () => {
    const { dir, db, keys } = open();
    const k = keys.issue("ci");
    const row = db.query("SELECT * FROM api_keys WHERE id = ?1").get(k.id) as Record<string, unknown>;
    expect(row).toEqual({ id: k.id, name: "ci", hash: hashApiKey(k.key), created_at: k.created_at, revoked_at: null });
    expect(JSON.stringify(row)).not.toContain(k.key.slice(12));
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    const secret = k.key.slice(12);
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).includes(secret)).toBe(false);
    const db2 = openDatabase(dir);
    expect(new ApiKeyStore(db2).verify(k.key)?.name).toBe("ci");
    db2.close();
  });
});
