/** Where a parsed JSON value holds an own key "__proto__" (as a path like `snapshot.a.0`), or null. JSON.parse makes
 * it an ordinary own key, but the schemas rebuild objects key by key, and an assignment to "__proto__" sets the new
 * object's prototype instead: the key would vanish silently (and reach whatever merges it next as a prototype).
 * Such frames are refused instead. Called only when the text contains the word, so it costs nothing otherwise. */
export function protoKeyPath(value: unknown): string | null {
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, path ? `${path}.${i}` : String(i)]));
      continue;
    }
    if (Object.hasOwn(v, "__proto__")) return path ? `${path}.__proto__` : "__proto__";
    for (const [k, item] of Object.entries(v)) stack.push([item, path ? `${path}.${k}` : k]);
  }
  return null;
}
