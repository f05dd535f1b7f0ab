// No promise in app/ or hal/ is left floating: an unhandled rejection ends the process (the hardening issue).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { floatingPromises, productFindings } from "../../scripts/floating-promises";

test("the checker reports exactly the floating promises of its fixture", () => {
  const lines = readFileSync(new URL("./fixtures/floating.ts", import.meta.url), "utf8").split("\n");
  const marked = lines.flatMap((l, i) => (l.includes("// floats") ? [i + 1] : []));
  const found = floatingPromises("test/lint/fixtures/tsconfig.json", ["test/lint/fixtures"]).map((f) => f.line);
  expect(found.sort((a, b) => a - b)).toEqual(marked);
});

test("no promise in app/ or hal/ floats", () => {
  const found = productFindings().map((f) => `${f.file}:${f.line}: ${f.why}: ${f.text}`);
  expect(found).toEqual([]);
}, 60_000);
