import { createHmac, timingSafeEqual } from "node:crypto";

/** Compact HS256 JWTs: the only algorithm the appliance issues or accepts (no `alg` negotiation, no `none`). */
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
  if (parts.length !== 3 || parts[0] !== HEADER) return null;
  const expected = createHmac("sha256", key).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return null;
  const c = claims as Record<string, unknown>;
  if (typeof c.exp === "number" && nowSec >= c.exp) return null;
  if (typeof c.nbf === "number" && nowSec < c.nbf) return null;
  return c;
}
