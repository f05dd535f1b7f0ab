import { Elysia } from "elysia";
import { z } from "zod";
import { reachesTelescope, type Principal, type Role } from "../auth/principal";
import type { Authenticate } from "../auth/request-auth";
import { existsSync } from "node:fs";
import { DirectFailure } from "../direct/failure";
import { previewOf } from "../direct/types";
import { CommandFailure } from "../node/command-failure";
import type { SkyNode } from "../node/skynode";
import { TaskSpec } from "../protocol";

const SimInputs = z.strictObject({ weather_safe: z.boolean().optional(), roof_open: z.boolean().optional() });

const WRITERS: Role[] = ["operator", "owner", "admin"];
const OWNERS: Role[] = ["owner", "admin"];

/** The appliance's own REST API: the automated task queue (`/v1/tasks`) and the simulated environment inputs.
 * Every route authenticates like the WebSocket endpoints and checks the caller's role and telescope grant; errors
 * use the protocol's codes (`{"error":{"code","message","details"?}}`). */
export function nodeRoutes(node: SkyNode, authenticate: Authenticate) {
  const uid = node.telescope.uid;
  const fail = (status: number, code: string, message: string, details?: unknown) =>
    new Response(JSON.stringify({ error: { code, message, ...(details ? { details } : {}) } }), {
      status,
      headers: { "content-type": "application/json" },
    });
  const authorize = (request: Request, roles: Role[] | null): Principal | Response => {
    const outcome = authenticate(request);
    if (!outcome.ok) return fail(outcome.status, "forbidden", outcome.reason);
    const p = outcome.principal;
    if (!reachesTelescope(p, uid)) return fail(403, "forbidden", `your token does not grant access to telescope ${uid}`);
    if (roles && !roles.includes(p.role)) return fail(403, "forbidden", `role ${p.role} may not do this (needs ${roles.join(" or ")})`);
    return p;
  };
  const body = async (request: Request): Promise<unknown> => {
    try {
      return await request.json();
    } catch {
      throw new CommandFailure("invalid", "the body is not valid JSON");
    }
  };
  const guard = async (request: Request, roles: Role[] | null, handle: (p: Principal) => Promise<unknown> | unknown) => {
    const p = authorize(request, roles);
    if (p instanceof Response) return p;
    try {
      const out = await handle(p);
      return out instanceof Response ? out : Response.json(out);
    } catch (err) {
      if (err instanceof CommandFailure || (err instanceof DirectFailure && err.code !== "internal")) {
        return fail(err.code === "not_found" ? 404 : err.code === "conflict" ? 409 : 400, err.code, err.message, err.details);
      }
      node.log.error({ err }, "REST request failed");
      return fail(500, "internal", (err as Error).message);
    }
  };
  const parse = <T>(schema: z.ZodType<T>, raw: unknown): T => {
    const r = schema.safeParse(raw);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new CommandFailure("invalid", `${first?.path.join(".") || "body"}: ${first?.message}`, { issues: r.error.issues.slice(0, 20) });
    }
    return r.data;
  };

  /** `GET /v1/images/{id|latest}.fits` streams the stored file (sendfile, never through JS); `.png` renders the
   * thumbnail `image.preview` gives (`?size=` 16-1024, default 256). */
  const image = (request: Request, file: string) =>
    guard(request, null, async () => {
      const m = /^(.{1,200})\.(fits|png)$/.exec(file);
      if (!m) return fail(404, "not_found", "ask for /v1/images/{image_id}.fits or .png");
      const [, id, ext] = m as unknown as [string, string, "fits" | "png"];
      const record = id === "latest" ? node.images.latest(uid) : node.images.get(id);
      if (!record || record.telescope_uid !== uid) return fail(404, "not_found", id === "latest" ? `telescope ${uid} has no stored image yet` : `no image ${id}`);
      if (!existsSync(record.path)) return fail(404, "not_found", `the file of image ${record.image_id} is gone from the data dir`);
      // A stored image never changes; "latest" does.
      const cache = id === "latest" ? "no-store" : "private, max-age=31536000, immutable";
      if (ext === "fits") {
        return new Response(Bun.file(record.path), {
          headers: {
            "content-type": "image/fits",
            "content-disposition": `attachment; filename="${record.image_id}.fits"`,
            "cache-control": cache,
          },
        });
      }
      const size = new URL(request.url).searchParams.get("size");
      const maxSize = parse(z.coerce.number().int().min(16).max(1024).default(256), size ?? undefined);
      const [png] = await previewOf(record.path, record.image_id, maxSize);
      return new Response(png, { headers: { "content-type": "image/png", "cache-control": cache } });
    });

  return new Elysia()
    .get("/v1/images/:file", ({ request, params }) => image(request, params.file))
    .get("/v1/tasks", ({ request }) => guard(request, null, () => ({ telescope_uid: uid, tasks: node.automation.list() })))
    .post("/v1/tasks", ({ request }) =>
      guard(request, WRITERS, async () => {
        const task = node.addTask(parse(TaskSpec, await body(request)));
        return new Response(JSON.stringify(task), { status: 201, headers: { "content-type": "application/json", location: `/v1/tasks/${task.task_id}` } });
      }),
    )
    .get("/v1/tasks/:id", ({ request, params }) =>
      guard(request, null, () => node.automation.get(params.id) ?? fail(404, "not_found", `no task ${params.id}`)),
    )
    .delete("/v1/tasks/:id", ({ request, params }) =>
      guard(request, WRITERS, async () => (await node.automation.remove(params.id)) ?? fail(404, "not_found", `no task ${params.id}`)),
    )
    .get("/v1/sim/inputs", ({ request }) => guard(request, null, () => ({ ...node.telescope.inputs })))
    .put("/v1/sim/inputs", ({ request }) => guard(request, OWNERS, async () => node.setInputs(parse(SimInputs, await body(request)))));
}
