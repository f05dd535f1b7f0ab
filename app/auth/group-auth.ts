import { principalFromToken, type Principal } from "./principal";
import { SESSION_ENDED_REASON } from "./request-auth";

export type GroupAuthOutcome =
  | { ok: true; principal: Principal; apiKeyId: string; account: string }
  | { ok: false; status: 401 | 403; reason: string };

export interface GroupAuthOptions {
  signingKey: Uint8Array;
  /** The key's id if it is a live API key. */
  verifyApiKey: (key: string) => { id: string } | null;
  /** For sign-in sessions: is the account still as it was? */
  sessionValid: (p: Principal) => boolean;
}

/** Seed 004's two credentials (docs/messaging.md): the machine's `api_key` (entry ticket) and the user's `jwt` (visa),
 * as query parameters (browsers cannot set headers on a WebSocket) or as `X-API-Key` and `Authorization: Bearer`;
 * `x_account_id` optionally names the account context, which only an admin may set to another account than its own. */
export function authenticateGroupRequest(request: Request, opts: GroupAuthOptions): GroupAuthOutcome {
  const url = new URL(request.url);
  const q = url.searchParams;
  const apiKey = q.get("api_key") ?? request.headers.get("x-api-key");
  if (!apiKey) return { ok: false, status: 401, reason: "api_key is required (?api_key= or the X-API-Key header)" };
  const key = opts.verifyApiKey(apiKey);
  if (!key) return { ok: false, status: 401, reason: "invalid or revoked api_key" };
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
  const jwt = q.get("jwt") ?? bearer?.[1];
  if (!jwt) return { ok: false, status: 401, reason: "jwt is required (?jwt= or Authorization: Bearer)" };
  const principal = principalFromToken(jwt, opts.signingKey);
  if (!principal) return { ok: false, status: 401, reason: "invalid or expired jwt" };
  if (principal.account && !opts.sessionValid(principal)) {
    return { ok: false, status: 401, reason: SESSION_ENDED_REASON };
  }
  const account = q.get("x_account_id") ?? request.headers.get("x-account-id") ?? principal.sub;
  if (account !== principal.sub && principal.role !== "admin") {
    return { ok: false, status: 403, reason: `x_account_id ${account.slice(0, 200)} is not your account: only an admin may act for another` };
  }
  return { ok: true, principal, apiKeyId: key.id, account };
}
