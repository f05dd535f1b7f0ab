import crypto from "node:crypto";

/** Machine API keys (seed 004's `api_key`): `sk_<id>_<secret>`, id = 8 random lowercase hex characters (public: it
 * names the key in lists and revocations), secret = 32 random bytes in base64url without padding (43 characters).
 * Only a SHA-256 of the whole key is stored: 256 random bits need no slow hash to resist guessing. */
const KEY_FORMAT = /^sk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

export const API_KEY_FORMAT_HINT = "sk_<8 lowercase hex>_<43 base64url characters>";

export function generateApiKey(): { id: string; key: string } {
  const id = crypto.randomBytes(4).toString("hex");
  return { id, key: `sk_${id}_${crypto.randomBytes(32).toString("base64url")}` };
}

/** The key's id, or null unless `key` is exactly in the issued format (the secret in canonical base64url). */
export function parseApiKey(key: string): { id: string } | null {
  const m = KEY_FORMAT.exec(key);
  if (!m) return null;
  // 43 characters carry 258 bits: the last one's two spare bits must be zero, so one key has one spelling.
  if (Buffer.from(m[2]!, "base64url").toString("base64url") !== m[2]) return null;
  return { id: m[1]! };
}

/** SHA-256 of the key, lowercase hex: what the store keeps. */
export function hashApiKey(key: string): string {
  return crypto.createHash("sha256").update(key).digest("hex");
}

/** Whether `key` hashes to `storedHash`, compared in constant time. */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  const given = Buffer.from(hashApiKey(key), "hex");
  const expected = Buffer.from(storedHash, "hex");
  // Evaluated as a whole, so a malformed stored hash still costs one comparison.
  const equal = crypto.timingSafeEqual(given, expected.length === given.length ? expected : Buffer.alloc(given.length));
  return equal && expected.length === given.length;
}
