import { Elysia } from "elysia";
import { searchCatalog } from "../astro/catalog";
import type { Authenticate } from "../auth/request-auth";

/** `GET /v1/catalog?q=M3&limit=10`: targets by name as you type (the web UI's search), for any signed-in role. */
export function catalogRoutes(authenticate: Authenticate) {
  return new Elysia().get("/v1/catalog", ({ request }) => {
    const outcome = authenticate(request);
    if (!outcome.ok) return Response.json({ error: { code: "forbidden", message: outcome.reason } }, { status: outcome.status });
    const url = new URL(request.url);
    const limit = Math.min(50, Math.max(1, Number(url.searchParams.get("limit") ?? 10) || 10));
    return { matches: searchCatalog((url.searchParams.get("q") ?? "").slice(0, 100), limit) };
  });
}
