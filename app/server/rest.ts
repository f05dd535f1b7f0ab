import type { z } from "zod";
import type { Principal } from "../auth/principal";
import type { Authenticate } from "../auth/request-auth";

/** The JSON REST routes' shared parts: errors as `{"error":{"code","message","details"?}}` with an HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** The request's JSON body, validated; `invalid` (400) names the first bad field. */
export async function parseBody<T>(schema: z.ZodType<T>, request: Request): Promise<T> {
  let raw: unknown;
  try {
    raw = await request.json();
  } catch {
    throw new HttpError(400, "invalid", "the body is not valid JSON");
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new HttpError(400, "invalid", `${first?.path.join(".") || "body"}: ${first?.message}`, { issues: r.error.issues.slice(0, 20) });
  }
  return r.data;
}

/** The caller; with `adminFor`, only an admin (403 otherwise, saying what only admins may do). */
export function requirePrincipal(authenticate: Authenticate, request: Request, adminFor?: string): Principal {
  const outcome = authenticate(request);
  if (!outcome.ok) throw new HttpError(outcome.status, "forbidden", outcome.reason);
  if (adminFor && outcome.principal.role !== "admin") throw new HttpError(403, "forbidden", `only an admin may ${adminFor}`);
  return outcome.principal;
}

/** A route handler whose HttpErrors become their answers; anything else is `internal` (500), after `onError`
 * (which may also map an error of its own to an answer). */
export function handle(
  fn: (request: Request, params: Record<string, string>) => Promise<Response> | Response,
  onError: (err: unknown) => Response | void = () => {},
) {
  return async ({ request, params }: { request: Request; params: Record<string, string> }) => {
    try {
      return await fn(request, params);
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      return onError(err) ?? json(500, { error: { code: "internal", message: (err as Error).message } });
    }
  };
}
