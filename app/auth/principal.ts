import { z } from "zod";
import { RoleName, Uid } from "../protocol";
import { signJwt, verifyJwt } from "./jwt";

/** Roles (DESIGN.md §2): viewer reads streams; operator commands while holding the lease; owner is operator plus
 * force-revoke; skynode publishes for its one telescope; admin manages the appliance and reaches everything. */
export const Role = RoleName;
export type Role = z.infer<typeof Role>;

const TokenClaims = z.object({
  sub: z.string().min(1).max(200),
  role: Role,
  /** Telescopes this token is restricted to; absent = every telescope of this server. */
  tel: z.array(Uid).min(1).max(1000).optional(),
  iat: z.number(),
  exp: z.number().optional(),
  jti: z.string().optional(),
  /** Set on tokens a password sign-in issued: the account's version (its updated_at) at sign-in. */
  acv: z.number().optional(),
});

export interface Principal {
  sub: string;
  role: Role;
  /** null = not restricted to particular telescopes. */
  telescopes: ReadonlySet<string> | null;
  /** A password sign-in's session: valid only while the account is as it was when it signed in. */
  account?: { version: number };
  /** The token's id (`jti`): what a sign-out revokes, and what the connection registry closes. */
  tokenId?: string;
  /** When the token stops being valid (ms since the epoch); absent for a token without `exp`. Open sockets are
   * closed at that moment. */
  expiresAt?: number;
}

export interface TokenRequest {
  sub: string;
  role: Role;
  telescopes?: string[];
  ttlSec?: number;
  /** The account version for a sign-in session (see Principal.account). */
  accountVersion?: number;
}

export function issueToken(key: Uint8Array, req: TokenRequest, nowSec = Math.floor(Date.now() / 1000)): string {
  if (req.role === "skynode" && req.telescopes?.length !== 1) {
    throw new Error("a skynode token names exactly one telescope (--telescope UID)");
  }
  for (const uid of req.telescopes ?? []) Uid.parse(uid);
  // A zero or negative lifetime would silently mean "no exp" below: a token that never expires must be asked for.
  if (req.ttlSec !== undefined && !(req.ttlSec > 0)) throw new Error(`a token's lifetime must be positive, not ${req.ttlSec} s`);
  const claims = TokenClaims.parse({
    sub: req.sub,
    role: req.role,
    tel: req.telescopes?.length ? req.telescopes : undefined,
    iat: nowSec,
    exp: req.ttlSec ? nowSec + req.ttlSec : undefined,
    jti: crypto.randomUUID(),
    acv: req.accountVersion,
  });
  return signJwt(claims, key);
}

export function principalFromToken(token: string, key: Uint8Array): Principal | null {
  const raw = verifyJwt(token, key);
  if (!raw) return null;
  const parsed = TokenClaims.safeParse(raw);
  if (!parsed.success) return null;
  const c = parsed.data;
  if (c.role === "skynode" && c.tel?.length !== 1) return null;
  return {
    sub: c.sub,
    role: c.role,
    telescopes: c.tel ? new Set(c.tel) : null,
    ...(c.acv !== undefined ? { account: { version: c.acv } } : {}),
    ...(c.jti !== undefined ? { tokenId: c.jti } : {}),
    ...(c.exp !== undefined ? { expiresAt: c.exp * 1000 } : {}),
  };
}

export function reachesTelescope(p: Principal, telescopeUid: string): boolean {
  return p.telescopes === null || p.telescopes.has(telescopeUid);
}

/** `1h`, `30m`, `7d`, `45s` or plain seconds; positive (a zero lifetime is not "forever"). */
export function parseTtl(text: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`bad ttl "${text}": use e.g. 30m, 1h, 7d`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  const seconds = Number(m[1]) * unit;
  if (seconds <= 0) throw new Error(`bad ttl "${text}": it must be at least 1 s`);
  return seconds;
}
