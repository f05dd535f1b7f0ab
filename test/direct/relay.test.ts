// Direct requests through a hub (hub role) to a SkyNode in another process: the response relayed in both
// encodings without decoding, paced by credits so a slow requester holds the hub to a few chunks, and cancelled
// at the SkyNode when the requester leaves.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SkynodeClient } from "../../app/client";
import { patternBytes, storeImage } from "../helpers/images";
import { openFdsTo, rssOf } from "../helpers/procfs";
import { RawWebSocket, type RawFrame } from "../helpers/raw-ws";
import { startServer, type TestServer } from "../helpers/server";
import { startSkyNodeProcess, type SkyNodeProcess } from "../helpers/skynode-process";

const MB = 1024 * 1024;
const UID = "ext-1";
let hub: TestServer;
let sky: SkyNodeProcess;
let skyData: string;

beforeAll(async () => {
  hub = await startServer({ args: ["--role", "hub"] });
  sky = await startSkyNodeProcess(hub, UID);
  skyData = sky.dataDir;
});
afterAll(async () => {
  expect(await sky.stop()).toBe(0);
  expect(await hub.stop()).toBe(0);
});

const lastIs = (frames: RawFrame[], kind: string) => {
  const last = frames.at(-1);
  return !!last && "text" in last && last.text.includes(`"kind":"${kind}"`);
};

describe("through a hub to an external SkyNode", () => {
  test("the latest image in both encodings, byte-exact, and interleaved on one socket", async () => {
    const a = patternBytes(3 * MB + 17, 31);
    const b = patternBytes(2 * MB + 5, 32);
    const first = storeImage(skyData, a, UID);
    storeImage(skyData, b, UID);
    const client = await SkynodeClient.connect({ url: hub.http, token: hub.token("vera", "viewer") });
    for (const encoding of ["binary", "base64"] as const) {
      const r = await client.request(UID, "image.fetch", {}, { encoding });
      expect(r.content_type).toBe("image/fits");
      expect(Buffer.from(r.bytes).equals(Buffer.from(b))).toBe(true);
    }
    const [x, y] = await Promise.all([
      client.request(UID, "image.fetch", { image_id: first.image_id }, { encoding: "binary" }),
      client.request(UID, "image.fetch", { image_id: first.image_id }, { encoding: "base64" }),
    ]);
    expect(Buffer.from(x.bytes).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(y.bytes).equals(Buffer.from(a))).toBe(true);
    const list = JSON.parse(new TextDecoder().decode((await client.request(UID, "image.list")).bytes));
    expect(list.images.map((i: { image_id: string }) => i.image_id)).toContain(first.image_id);
    // Errors from the SkyNode reach the requester with its own request id and code.
    await expect(client.request(UID, "image.fetch", { image_id: "nope" })).rejects.toMatchObject({ code: "not_found" });
    await expect(client.request(UID, "image.rotate")).rejects.toMatchObject({ code: "not_found" });
    client.close();
  }, 60_000);

  test("the relayed frames are the seed's shapes: base64 chunks as JSON, binary as header + one binary frame", async () => {
    const bytes = patternBytes(700 * 1024, 33);
    const { image_id } = storeImage(skyData, bytes, UID);
    const ws = await RawWebSocket.connect(hub.port, `/v1/ws/commands?token=${hub.token("vera", "viewer")}`);
    ws.sendText(JSON.stringify({ kind: "direct_request", request_id: "mine", telescope_uid: UID, request_type: "image.fetch", payload: { image_id, accept: ["binary"] } }));
    await ws.until((fs) => lastIs(fs, "direct_response_end"));
    const texts = ws.frames.filter((f): f is { text: string } => "text" in f).map((f) => JSON.parse(f.text));
    expect(texts[0]).toMatchObject({ kind: "direct_response_start", request_id: "mine", total_size: bytes.byteLength, encoding: "binary" });
    // Each header is immediately followed by its binary frame.
    const kinds = ws.frames.map((f) => ("text" in f ? JSON.parse(f.text).kind : "binary"));
    expect(kinds.join()).toBe(["direct_response_start", "direct_response_chunk", "binary", "direct_response_chunk", "binary", "direct_response_chunk", "binary", "direct_response_end"].join());
    expect(texts.every((t) => t.request_id === "mine")).toBe(true);
    ws.close();
  });

  test("a requester that stops reading: the hub holds a few chunks while the SkyNode waits for credit; resumed, exact", async () => {
    const size = 40 * 1000 * 1000;
    const bytes = patternBytes(size, 34);
    const { image_id, path } = storeImage(skyData, bytes, UID);
    const token = hub.token("slow", "viewer");
    const ask = (ws: RawWebSocket, id: string) =>
      ws.sendText(JSON.stringify({ kind: "direct_request", request_id: id, telescope_uid: UID, request_type: "image.fetch", payload: { image_id, accept: ["binary"] } }));
    const warm = await RawWebSocket.connect(hub.port, `/v1/ws/commands?token=${token}`);
    ask(warm, "warm");
    await warm.until((fs) => lastIs(fs, "direct_response_end"), 60_000);
    warm.close();
    const settle = async () => {
      let last = rssOf(hub.proc.pid);
      let quiet = 0;
      while (quiet < 8) {
        await Bun.sleep(50);
        const now = rssOf(hub.proc.pid);
        quiet = Math.abs(now - last) < 256 * 1024 ? quiet + 1 : 0;
        last = now;
      }
      return last;
    };
    const before = await settle();
    const slow = await RawWebSocket.connect(hub.port, `/v1/ws/commands?token=${token}`);
    slow.pause();
    ask(slow, "slow");
    const growth = (await settle()) - before;
    console.log(`hub RSS +${(growth / MB).toFixed(1)} MiB with a stalled relayed ${size / 1e6} MB transfer`);
    expect(growth).toBeLessThan(8 * MB);
    // The SkyNode still holds the file open: it is waiting for credit, not finished.
    expect(openFdsTo(sky.proc.pid, path)).toBe(1);
    slow.resume();
    await slow.until((fs) => lastIs(fs, "direct_response_end") || lastIs(fs, "direct_error"), 60_000);
    const parts: Uint8Array[] = [];
    for (const f of slow.frames) if ("binary" in f) parts.push(f.binary);
    expect(Buffer.concat(parts).equals(Buffer.from(bytes))).toBe(true);
    slow.close();
  }, 90_000);

  test("a requester that leaves mid-transfer: the SkyNode is told to stop and closes the file", async () => {
    const { image_id, path } = storeImage(skyData, patternBytes(40 * 1000 * 1000, 35), UID);
    const ws = await RawWebSocket.connect(hub.port, `/v1/ws/commands?token=${hub.token("leaver", "viewer")}`);
    ws.pause();
    ws.sendText(JSON.stringify({ kind: "direct_request", request_id: "x", telescope_uid: UID, request_type: "image.fetch", payload: { image_id, accept: ["binary"] } }));
    const deadline = Date.now() + 10_000;
    while (openFdsTo(sky.proc.pid, path) === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(openFdsTo(sky.proc.pid, path)).toBe(1);
    ws.close();
    while (openFdsTo(sky.proc.pid, path) > 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(openFdsTo(sky.proc.pid, path)).toBe(0);
    // And the hub still relays for others.
    const client = await SkynodeClient.connect({ url: hub.http, token: hub.token("vera", "viewer") });
    expect((await client.request(UID, "image.fetch", { image_id })).bytes.byteLength).toBe(40 * 1000 * 1000);
    client.close();
  }, 60_000);
});
