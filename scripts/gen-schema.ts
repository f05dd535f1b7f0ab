// Writes docs/protocol.schema.json from app/protocol's zod schemas (the single source of truth).
// `bun scripts/gen-schema.ts --check` exits 1 when the committed file is stale.
import { renderProtocolSchema, SCHEMA_PATH } from "../app/protocol/json-schema";

const text = renderProtocolSchema();
if (process.argv.includes("--check")) {
  const current = await Bun.file(SCHEMA_PATH).text().catch(() => "");
  if (current !== text) {
    console.error(`${SCHEMA_PATH} is stale: run bun run gen:schema`);
    process.exit(1);
  }
} else {
  await Bun.write(SCHEMA_PATH, text);
  console.log(`wrote ${SCHEMA_PATH}`);
}
