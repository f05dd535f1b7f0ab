import { Elysia } from "elysia";
import { searchCatalog } from "../astro/catalog";
import { authenticateRequest } from "../auth/request-auth";

/** `GET /v1/catalog?q=M3&limit=10`: targets by name as you type (the web UI's search), for any signed-in role. */
export function catalogRoutes(signingKey: Uint8Array, allowedOrigins: readonly string[]) {
  return new Elysia().get("/v1/catalog", ({ request }) => {
    const outcome = authenticateRequest(request, signingKey, allowedOrigins);
    if (!outcome.ok) return Response.json({ error: { code: "forbidden", message: outcome.reason } }, { status: outcome.status });
    const url = new URL(request.url);
    const limit = Math.min(50, Math.max(1, Number(url.searchParams.get("limit") ?? 10) || 10));
    return { matches: searchCatalog((url.searchParams.get("q") ?? "").slice(0, 100), limit) };
  });
}
