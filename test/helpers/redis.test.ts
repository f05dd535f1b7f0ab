// The Redis harness itself: a real redis-server on loopback, reached with Bun's built-in client.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { RedisClient } from "bun";
import { startRedis } from "./redis";

test("startRedis: SET/GET and PUBLISH/SUBSCRIBE on a real redis-server, stopped by pid", async () => {
  const redis = await startRedis();
  const client = new RedisClient(redis.url);
  const sub = new RedisClient(redis.url);
  try {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    await client.connect();
    expect(await client.set("skynode:test", "hello")).toBe("OK");
    expect(await client.get("skynode:test")).toBe("hello");
    // RESP3: CONFIG GET answers a map, which Bun's client returns as an object.
    const workDir = ((await client.send("CONFIG", ["GET", "dir"])) as { dir: string }).dir;
    expect(workDir).toContain("skynode-redis-");
    expect(existsSync(workDir)).toBe(true);

    await sub.connect();
    const got = Promise.withResolvers<[string, string]>();
    await sub.subscribe("skynode:chan", (message, channel) => got.resolve([message, channel]));
    // A subscribed connection only takes (UN)SUBSCRIBE and PING: other commands go through a duplicate.
    const side = await sub.duplicate();
    expect(await side.get("skynode:test")).toBe("hello");
    side.close();
    expect(await client.publish("skynode:chan", "snapshot")).toBe(1);
    expect(await got.promise).toEqual(["snapshot", "skynode:chan"]);

    client.close();
    sub.close();
    await redis.stop();
    expect(redis.proc.exitCode !== null || redis.proc.signalCode !== null).toBe(true);
    expect(redis.proc.killed).toBe(true);
    expect(existsSync(workDir)).toBe(false);
  } finally {
    client.close();
    sub.close();
    await redis.stop();
  }
});
