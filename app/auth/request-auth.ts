import { principalFromToken, type Principal } from "./principal";

export const SESSION_COOKIE = "skynet_session";

export const SESSION_ENDED_REASON = "this session has ended (signed out, or the account was changed or removed): sign in again";

/** Authenticates a request (the server binds its key, allowed origins and session check once). */
export type Authenticate = (request: Request) => AuthOutcome;

export type AuthOutcome =
  | { ok: true; principal: Principal; via: "query" | "header" | "cookie" }
  | { ok: false; status: 401 | 403; reason: string };

/** Authenticates an HTTP request or WebSocket upgrade by `?token=`, `Authorization: Bearer` or the session cookie.
 * A presented but bad credential is refused rather than falling through to the next source. A cookie is sent by
 * the browser to any page's request, so a cookie upgrade must come from the served host or an allowed origin. */
export function authenticateRequest(
  request: Request,
  key: Uint8Array,
  allowedOrigins: readonly string[],
  /** For sign-in sessions: is the account still as it was? (deleted or changed accounts end their sessions) */
  sessionValid: (p: Principal) => boolean = () => true,
): AuthOutcome {
  const outcome = credentials(request, key, allowedOrigins);
  if (outcome.ok && outcome.principal.account && !sessionValid(outcome.principal)) {
    return { ok: false, status: 401, reason: SESSION_ENDED_REASON };
  }
  return outcome;
}

function credentials(request: Request, key: Uint8Array, allowedOrigins: readonly string[]): AuthOutcome {
  const url = new URL(request.url);
  const queryToken = url.searchParams.get("token");
  if (queryToken) return fromToken(queryToken, key, "query");
  const header = request.headers.get("authorization");
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return { ok: false, status: 401, reason: "Authorization header must be 'Bearer <token>'" };
    return fromToken(m[1]!, key, "header");
  }
  const cookie = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  // Not a credential at all (a browser keeps whatever a page once set): refused like a bad token, never a crash.
  if (cookie === MALFORMED) return { ok: false, status: 401, reason: `the ${SESSION_COOKIE} cookie is malformed: sign in again` };
  if (cookie) {
    const origin = request.headers.get("origin");
    // An <img> or a link fetches with no Origin header; such a plain read is safe to take on the cookie alone (the
    // cookie is SameSite=Strict, and a cross-origin page cannot read the answer). Upgrades and writes need Origin.
    const plainRead = !origin && (request.method === "GET" || request.method === "HEAD") && request.headers.get("upgrade") === null;
    if (!plainRead && (!origin || !originAllowed(origin, request.headers.get("host"), allowedOrigins))) {
      return { ok: false, status: 403, reason: `origin ${origin ?? "(none)"} is not allowed for a session cookie` };
    }
    return fromToken(cookie, key, "cookie");
  }
  return { ok: false, status: 401, reason: "no credentials: pass ?token=, Authorization: Bearer, or the session cookie" };
}

function fromToken(token: string, key: Uint8Array, via: "query" | "header" | "cookie"): AuthOutcome {
  const principal = principalFromToken(token, key);
  return principal ? { ok: true, principal, via } : { ok: false, status: 401, reason: "invalid or expired token" };
}

/** The token a request presents, by the same precedence as authentication (query, header, cookie), without
 * checking it or the Origin: what a sign-out ends. */
export function presentedToken(request: Request): string | null {
  const query = new URL(request.url).searchParams.get("token");
  if (query) return query;
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
  if (bearer) return bearer[1]!;
  const cookie = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  return typeof cookie === "string" && cookie ? cookie : null;
}

export function originAllowed(origin: string, host: string | null, allowed: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (host !== null && parsed.host === host.toLowerCase()) return true;
  return allowed.some((a) => new URL(a).origin === parsed.origin);
}

/** What readCookie gives for a cookie whose value is not valid percent-encoding. */
export const MALFORMED: unique symbol = Symbol("malformed cookie");

/** The named cookie's value, percent-decoded; MALFORMED when it cannot be decoded. */
export function readCookie(header: string | null, name: string): string | typeof MALFORMED | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return MALFORMED;
      }
    }
  }
  return null;
}
