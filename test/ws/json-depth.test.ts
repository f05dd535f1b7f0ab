import { expect, test } from "bun:test";
import fc from "fast-check";
import { exceedsDepth } from "../../app/ws/json-depth";

const nest = (n: number) => "[".repeat(n) + "]".repeat(n);

test("nesting is measured on the structure, not inside strings", () => {
  expect(exceedsDepth(nest(64), 64)).toBe(false);
  expect(exceedsDepth(nest(65), 64)).toBe(true);
  expect(exceedsDepth("[".repeat(100_000), 64)).toBe(true);
  expect(exceedsDepth(`{"a":${nest(60)},"b":{"c":[1,2,{"d":[]}]}}`, 64)).toBe(false);
  // Brackets in strings, escaped quotes and backslashes do not count.
  expect(exceedsDepth(JSON.stringify({ s: "[".repeat(500), t: 'a\\"[[[', u: "\\\\" }), 4)).toBe(false);
  expect(exceedsDepth(`["\\\\", ${nest(10)}]`, 8)).toBe(true);
  // Unterminated strings are left to JSON.parse.
  expect(exceedsDepth(`["${"[".repeat(200)}`, 8)).toBe(false);
});

test("agrees with a walk of the parsed value for any JSON", () => {
  const depth = (v: unknown): number =>
    Array.isArray(v) ? 1 + Math.max(0, ...v.map(depth)) : v && typeof v === "object" ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0;
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 14 }), (value, max) => {
      const text = JSON.stringify(value);
      expect(exceedsDepth(text, max)).toBe(depth(value) > max);
    }),
    { numRuns: 2000 },
  );
});
