import { z } from "zod";
import { namedSchemas } from "./index";

export const SCHEMA_PATH = new URL("../../docs/protocol.schema.json", import.meta.url).pathname;

/** JSON Schema (draft 2020-12) of every named protocol schema, rendered by zod itself. */
export function renderProtocolSchema(): string {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(namedSchemas)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io: "input", unrepresentable: "any", uri: (id) => `#/$defs/${id}` });
  const doc = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "skynode WebSocket protocol",
    description: "Generated from app/protocol by scripts/gen-schema.ts; do not edit.",
    $defs: Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, stripSchemaKey(s)])),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

function stripSchemaKey(s: Record<string, unknown>) {
  const { $schema: _s, $id: _i, ...rest } = s;
  return rest;
}
