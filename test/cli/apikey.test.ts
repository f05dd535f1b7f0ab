// `apikey issue|add|list|revoke`: machine API keys managed from the command line, kept hashed in the data dir.
import { describe, expect, test } from "bun:test";
import { ApiKeyStore } from "../../app/store/api-keys";
import { openDatabase } from "../../app/store/database";
import { generateApiKey } from "../../app/auth/api-key";
import { freshDirs } from "../helpers/temp-dirs";

const ROOT = new URL("../..", import.meta.url).pathname;
const run = (args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}) => {
  const p = Bun.spawnSync([process.execPath, "app/main.ts", "apikey", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};
const lines = (out: string) => out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));

const fresh = freshDirs();

describe("apikey CLI", () => {
  test("issue prints the key alone; list shows it by name without the hash; the store verifies it", () => {
    const data = fresh();
    const issued = run(["issue", "--name", "ci-bot", "--data", data]);
    expect(issued).toMatchObject({ code: 0, err: "" });
    expect(issued.out).toMatch(/^sk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}\n$/);
    const key = issued.out.trim();
    const id = key.slice(3, 11);

    // SKYNODE_DATA is the data dir when --data is absent.
    const listed = run(["list"], { env: { SKYNODE_DATA: data } });
    expect(listed.code).toBe(0);
    const [entry, ...more] = lines(listed.out);
    expect(more).toEqual([]);
    expect(Object.keys(entry).sort()).toEqual(["created_at", "id", "name", "revoked_at"]);
    expect(entry).toMatchObject({ id, name: "ci-bot", revoked_at: null });
    expect(listed.out).not.toContain(key.slice(12));

    const db = openDatabase(data);
    expect(new ApiKeyStore(db).verify(key)?.name).toBe("ci-bot");
    db.close();

    expect(run(["issue", "--name", "ci-bot", "--data", data])).toMatchObject({ code: 2, out: "", err: expect.stringContaining("named ci-bot") });
  });

  test("add installs a key read from stdin (the same key on another instance)", () => {
    const a = fresh();
    const b = fresh();
    const key = run(["issue", "--name", "fleet", "--data", a]).out.trim();
    const added = run(["add", "--name", "fleet", "--data", b], { stdin: `${key}\n` });
    expect(added.code).toBe(0);
    expect(lines(added.out)).toEqual([expect.objectContaining({ id: key.slice(3, 11), name: "fleet", revoked_at: null })]);
    expect(lines(run(["list", "--data", b]).out).map((k) => k.name)).toEqual(["fleet"]);
    const db = openDatabase(b);
    expect(new ApiKeyStore(db).verify(key)?.name).toBe("fleet");
    db.close();

    expect(run(["add", "--name", "again", "--data", b], { stdin: key })).toMatchObject({ code: 2, err: expect.stringContaining("already installed") });
    expect(run(["add", "--name", "junk", "--data", b], { stdin: "sk_123_nope\n" })).toMatchObject({ code: 2, err: expect.stringContaining("not an API key") });
    expect(run(["add", "--name", "two", "--data", b], { stdin: `${generateApiKey().key}\n${generateApiKey().key}\n` })).toMatchObject({ code: 2, err: expect.stringContaining("exactly one key") });
    expect(run(["add", "--name", "none", "--data", b], { stdin: "" })).toMatchObject({ code: 2, err: expect.stringContaining("exactly one key") });
    expect(run(["add", "--data", b], { stdin: generateApiKey().key })).toMatchObject({ code: 2, err: expect.stringContaining("--name") });
    expect(lines(run(["list", "--data", b]).out)).toHaveLength(1);
  });

  test("revoke by name and by id prints the revoked key; an unknown one exits 2", () => {
    const data = fresh();
    const one = run(["issue", "--name", "one", "--data", data]).out.trim();
    const two = run(["issue", "--name", "two", "--data", data]).out.trim();
    const byName = run(["revoke", "one", "--data", data]);
    expect(byName.code).toBe(0);
    const [r1] = lines(byName.out);
    expect(r1).toMatchObject({ id: one.slice(3, 11), name: "one" });
    expect(typeof r1.revoked_at).toBe("number");

    const byId = run(["revoke", two.slice(3, 11), "--data", data]);
    expect(byId.code).toBe(0);
    expect(lines(byId.out)[0]).toMatchObject({ name: "two", revoked_at: expect.any(Number) });

    expect(run(["revoke", "one", "--data", data])).toMatchObject({ code: 2, out: "", err: expect.stringContaining("no live API key") });
    expect(run(["revoke", "nobody", "--data", data])).toMatchObject({ code: 2, err: expect.stringContaining("nobody") });
    const listed = lines(run(["list", "--data", data]).out);
    expect(listed.map((k) => [k.name, typeof k.revoked_at])).toEqual([["one", "number"], ["two", "number"]]);

    const db = openDatabase(data);
    const keys = new ApiKeyStore(db);
    expect(keys.verify(one)).toBeNull();
    expect(keys.verify(two)).toBeNull();
    db.close();
  });

  test("bad arguments exit 2 with a clear message", () => {
    const data = fresh();
    expect(run(["issue", "--data", data])).toMatchObject({ code: 2, err: expect.stringContaining("--name") });
    expect(run(["issue", "--name", "bad name", "--data", data])).toMatchObject({ code: 2, err: expect.stringContaining("letters, digits") });
    expect(run(["issue", "--name", "x", "--frob", "--data", data])).toMatchObject({ code: 2, err: expect.stringContaining("frob") });
    expect(run(["revoke", "--data", data])).toMatchObject({ code: 2, err: expect.stringContaining("ID or NAME") });
    expect(run(["revoke", "a", "b", "--data", data])).toMatchObject({ code: 2, err: expect.stringContaining("ID or NAME") });
    expect(run(["list", "extra", "--data", data]).code).toBe(2);
    expect(run(["frobnicate"])).toMatchObject({ code: 2, err: expect.stringContaining("apikey issue --name") });
    expect(run([])).toMatchObject({ code: 2, err: expect.stringContaining("usage") });
    expect(run(["list", "--data", data])).toEqual({ code: 0, out: "", err: "" });
  });
});
