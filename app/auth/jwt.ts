import { createHmac, timingSafeEqual } from "node:crypto";

/** Compact HS256 JWTs: the only algorithm the appliance issues or accepts (any other `alg`, `none` included, is
 * refused before the signature is looked at). */
const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export function signJwt(claims: Record<string, unknown>, key: Uint8Array): string {
  const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const sig = createHmac("sha256", key).update(`${HEADER}.${body}`).digest("base64url");
  return `${HEADER}.${body}.${sig}`;
}

/** Returns the claims of a token whose signature and `exp`/`nbf` check out, or null. */
export function verifyJwt(token: string, key: Uint8Array, nowSec = Date.now() / 1000): Record<string, unknown> | null {
  if (token.length > 8192) return null;
  const parts = token.split(".");
  if (parts.length !== 3 || decodeJson(parts[0]!)?.alg !== "HS256") return null;
  const expected = createHmac("sha256", key).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const c = decodeJson(parts[1]!);
  if (!c) return null;
  if (typeof c.exp === "number" && nowSec >= c.exp) return null;
  if (typeof c.nbf === "number" && nowSec < c.nbf) return null;
  return c;
}

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
