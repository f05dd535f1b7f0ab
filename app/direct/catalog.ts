import { z } from "zod";
import type { DirectBody } from "./body";
import { DirectFailure } from "./failure";

/** One direct request type: its name, what it answers, its payload schema and the handler. The registry is the
 * single place a type is documented (`describe()` feeds the README's table). */
export interface RequestType<P = any, C = unknown> {
  readonly type: string;
  readonly doc: string;
  readonly payload: z.ZodType<P>;
  handle(payload: P, ctx: C): DirectBody | Promise<DirectBody>;
}

export function requestType<P, C>(t: RequestType<P, C>): RequestType<P, C> {
  return t;
}

/** The request types a SkyNode answers, bound to what they read (its image index, its log). */
export class DirectCatalog<C = unknown> {
  private readonly types: Map<string, RequestType<unknown, C>>;

  constructor(
    types: readonly RequestType<any, C>[],
    private readonly ctx: C,
  ) {
    this.types = new Map(types.map((t) => [t.type, t]));
  }

  /** The body that answers `type` with `payload`: `not_found` for an unknown type, `invalid` for a bad payload,
   * the handler's own failure otherwise. */
  async open(type: string, payload: Record<string, unknown>): Promise<DirectBody> {
    const t = this.types.get(type);
    if (!t) throw new DirectFailure("not_found", `unknown request_type ${JSON.stringify(type).slice(0, 120)}: one of ${[...this.types.keys()].join(", ")}`);
    const parsed = t.payload.safeParse(payload);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new DirectFailure("invalid", `payload${first?.path.length ? `.${first.path.join(".")}` : ""}: ${first?.message}`, {
        issues: parsed.error.issues.slice(0, 20),
      });
    }
    return await t.handle(parsed.data, this.ctx);
  }

  describe(): { type: string; doc: string; payload: unknown }[] {
    return [...this.types.values()].map((t) => ({ type: t.type, doc: t.doc, payload: z.toJSONSchema(t.payload, { io: "input" }) }));
  }
}
