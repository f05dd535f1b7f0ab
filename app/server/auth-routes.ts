import { Elysia } from "elysia";
import type { Logger } from "pino";
import { z } from "zod";
import { AttemptLimiter, type Attempt } from "../auth/attempt-limiter";
import { issueToken, principalFromToken, Role, type Principal } from "../auth/principal";
import { originAllowed, presentedToken, SESSION_COOKIE, type Authenticate } from "../auth/request-auth";
import type { SetupCode } from "../auth/setup-code";
import { Uid } from "../protocol";
import type { User, UserStore } from "../store/users";
import { handle, HttpError, json, parseBody, requirePrincipal } from "./rest";

export interface AuthRoutesOptions {
  users: UserStore;
  setup: SetupCode;
  signingKey: Uint8Array;
  allowedOrigins: readonly string[];
  authenticate: Authenticate;
  log: Logger;
  /** An account was changed or removed: its sign-in sessions have ended; close what they hold open. */
  sessionsEnded: (name: string) => void;
  /** One session was signed out (its token id is revoked by then): close the sockets it holds open. */
  sessionRevoked: (tokenId: string) => void;
  /** How long a sign-in lasts. */
  sessionTtlSec?: number;
}

const Name = z.string().min(1).max(64).regex(/^[A-Za-z0-9._@-]+$/, "letters, digits and . _ @ - only");
const Password = z.string().min(8, "at least 8 characters").max(256);
const Telescopes = z.array(Uid).min(1).max(1000).nullable();
const Login = z.strictObject({ name: Name, password: z.string().min(1).max(256) });
const Setup = z.strictObject({ setup_code: z.string().min(1).max(64), name: Name, password: Password });
const NewUser = z.strictObject({ name: Name, role: Role, password: Password, telescopes: Telescopes.optional() });
const ChangeUser = z.strictObject({ role: Role.optional(), password: Password.optional(), telescopes: Telescopes.optional() });
const ChangePassword = z.strictObject({ current_password: z.string().min(1).max(256), new_password: Password });

/** Failed sign-ins per name before it is locked for LOCK_MS: slows password guessing to a crawl (the exact rule,
 * parallel attempts included, is AttemptLimiter's). */
const MAX_FAILURES = 5;
const LOCK_MS = 30_000;
/** The setup form's attempts are counted under a key no account name can take. */
const SETUP_KEY = "\u0000setup";

/** Accounts and sign-in for the web UI (`/v1/auth/*`, `/v1/users`): first-boot setup of the admin with the
 * one-time code, password sign-in that sets the `skynet_session` cookie (HttpOnly, SameSite=Strict, holding a
 * token like any other), sign-out, and an admin's management of accounts. Errors: `{"error":{"code","message"}}`. */
export function authRoutes(opts: AuthRoutesOptions) {
  const { users, setup, log } = opts;
  const ttl = opts.sessionTtlSec ?? 12 * 3600;
  const limiter = new AttemptLimiter({ maxFailures: MAX_FAILURES, lockMs: LOCK_MS });

  /** A sign-in form posted from another site must not sign the browser in (login CSRF). */
  const sameOrigin = (request: Request) => {
    const origin = request.headers.get("origin");
    if (origin && !originAllowed(origin, request.headers.get("host"), opts.allowedOrigins)) {
      throw new HttpError(403, "forbidden", `origin ${origin} is not allowed`);
    }
  };
  const principal = (request: Request, admin = false): Principal => requirePrincipal(opts.authenticate, request, admin ? "manage accounts" : undefined);
  const session = (request: Request, user: User, status: number) => {
    const token = issueToken(opts.signingKey, { sub: user.name, role: user.role, telescopes: user.telescopes ?? undefined, ttlSec: ttl, accountVersion: user.updated_at });
    const secure = new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto") === "https" ? "; Secure" : "";
    return json(status, { ...publicUser(user), expires_at: new Date(Date.now() + ttl * 1000).toISOString() }, {
      "set-cookie": `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${ttl}${secure}`,
    });
  };
  const handled = (fn: Parameters<typeof handle>[0]) => handle(fn, (err) => void log.error({ err }, "account request failed"));
  const admins = () => users.list().filter((u) => u.role === "admin").length;
  /** Runs one attempt on `key` (a name, or the setup form) with its place taken synchronously, before `check`'s
   * first await; refuses (429) when the limiter has no place. `check` reports the verdict on the attempt; an
   * exception without a verdict gives the place back. */
  const attempt = async <T>(key: string, check: (a: Attempt) => Promise<T>): Promise<T> => {
    const start = limiter.begin(key);
    if (!start.ok) {
      const what = !start.locked ? `attempts at once for ${key === SETUP_KEY ? "setup" : key}` : key === SETUP_KEY ? "wrong setup codes" : `failed sign-ins for ${key}`;
      throw new HttpError(429, "forbidden", `too many ${what}: try again in ${Math.ceil(start.retryInMs / 1000)} s`);
    }
    try {
      return await check(start.attempt);
    } finally {
      start.attempt.abandoned();
    }
  };

  return new Elysia()
    .get("/v1/auth/status", () => json(200, { setup_required: users.count() === 0 }))
    .post(
      "/v1/auth/setup",
      handled(async (request) => {
        sameOrigin(request);
        const body = await parseBody(Setup, request);
        if (users.count() > 0) throw new HttpError(409, "conflict", "setup is done: sign in instead");
        return attempt(SETUP_KEY, async (a) => {
          if (!setup.matches(body.setup_code)) {
            a.failed();
            throw new HttpError(403, "forbidden", "wrong setup code: it is printed when the appliance starts, and kept in its data dir (setup-code)");
          }
          a.succeeded();
          if (!(await users.create({ name: body.name, role: "admin", telescopes: null, password: body.password }, true))) {
            throw new HttpError(409, "conflict", "setup is done: sign in instead");
          }
          setup.consume();
          log.info({ name: body.name }, "first admin account created");
          return session(request, users.get(body.name)!, 201);
        });
      }),
    )
    .post(
      "/v1/auth/login",
      handled(async (request) => {
        sameOrigin(request);
        const body = await parseBody(Login, request);
        return attempt(body.name, async (a) => {
          const user = await users.verify(body.name, body.password);
          if (!user) {
            a.failed();
            log.warn({ name: body.name }, "failed sign-in");
            throw new HttpError(401, "forbidden", "wrong name or password");
          }
          a.succeeded();
          return session(request, user, 200);
        });
      }),
    )
    .post(
      "/v1/auth/logout",
      handled((request) => {
        // Ends the session on the server, not only in this browser: a copied cookie is refused from now on. The
        // Origin is not asked for: ending a session is what a forger would least want, and the cookie is Strict.
        const token = presentedToken(request);
        const p = token ? principalFromToken(token, opts.signingKey) : null;
        if (p?.account && p.tokenId) {
          users.revokeSession(p);
          log.info({ name: p.sub }, "signed out");
          // The revocation above is what counts (every authentication consults it); closing the open sockets only
          // makes it immediate, so an embedder that has not wired this yet still gets a correct sign-out.
          opts.sessionRevoked?.(p.tokenId);
        }
        return json(204, null, { "set-cookie": `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
      }),
    )
    .get(
      "/v1/auth/me",
      handled((request) => {
        const p = principal(request);
        return json(200, { name: p.sub, role: p.role, telescopes: p.telescopes ? [...p.telescopes] : null, account: users.get(p.sub) !== null });
      }),
    )
    .post(
      "/v1/auth/password",
      handled(async (request) => {
        const p = principal(request);
        const body = await parseBody(ChangePassword, request);
        // The current password is guessed against the same limit as a sign-in: a stolen session is no oracle.
        return attempt(p.sub, async (a) => {
          if (!(await users.verify(p.sub, body.current_password))) {
            a.failed();
            throw new HttpError(403, "forbidden", "the current password is wrong");
          }
          a.succeeded();
          const user = (await users.update(p.sub, { password: body.new_password }))!;
          // Every other session of the account ends with the old password; this one goes on with a fresh cookie.
          opts.sessionsEnded(p.sub);
          return session(request, user, 200);
        });
      }),
    )
    .get("/v1/users", handled((request) => (principal(request, true), json(200, { users: users.list().map(publicUser) }))))
    .post(
      "/v1/users",
      handled(async (request) => {
        principal(request, true);
        const body = await parseBody(NewUser, request);
        if (!(await users.create({ name: body.name, role: body.role, telescopes: body.telescopes ?? null, password: body.password }))) {
          throw new HttpError(409, "conflict", `an account named ${body.name} exists`);
        }
        return json(201, publicUser(users.get(body.name)!), { location: `/v1/users/${body.name}` });
      }),
    )
    .patch(
      "/v1/users/:name",
      handled(async (request, params) => {
        principal(request, true);
        const body = await parseBody(ChangeUser, request);
        const user = users.get(params.name!);
        if (!user) throw new HttpError(404, "not_found", `no account ${params.name}`);
        if (user.role === "admin" && body.role !== undefined && body.role !== "admin" && admins() === 1) {
          throw new HttpError(409, "conflict", "this is the last admin: make another admin first");
        }
        const updated = (await users.update(user.name, body))!;
        opts.sessionsEnded(user.name);
        return json(200, publicUser(updated));
      }),
    )
    .delete(
      "/v1/users/:name",
      handled((request, params) => {
        principal(request, true);
        const user = users.get(params.name!);
        if (!user) throw new HttpError(404, "not_found", `no account ${params.name}`);
        if (user.role === "admin" && admins() === 1) throw new HttpError(409, "conflict", "this is the last admin: make another admin first");
        users.remove(user.name);
        opts.sessionsEnded(user.name);
        return json(204, null);
      }),
    );
}

const publicUser = (u: User) => ({ name: u.name, role: u.role, telescopes: u.telescopes, created_at: new Date(u.created_at).toISOString() });
