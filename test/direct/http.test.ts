// The HTTP fast path for browsers: GET /v1/images/{id}.fits streamed from disk and {id}.png previews, with the
// same authentication and telescope grants as the WebSocket endpoints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { inflateSync } from "node:zlib";
import { SkynodeClient } from "../../app/client";
import { patternBytes, storeImage } from "../helpers/images";
import { FAST_SIM } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

let server: TestServer;
let token: string;
let exposed: string;

beforeAll(async () => {
  server = await startServer({ config: FAST_SIM });
  token = server.token("vera", "viewer");
  const op = await SkynodeClient.connect({ url: server.http, token: server.token("olga", "operator") });
  const lease = await op.command("sim-1", { command_type: "manual_control_lease.acquire", duration_s: 60, purpose: "http test" });
  const shot = await op.command("sim-1", { command_type: "camera.exposure.start", duration_s: 0.2, binning: 2 });
  exposed = String(shot.data!.image_id);
  await op.command("sim-1", { command_type: "manual_control_lease.release", lease_id: String(lease.data!.lease_id) });
  op.close();
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(`${server.http}${path}`, { headers });

/** Width and height from the PNG's IHDR, after checking its signature and that its pixels inflate to w×h+h bytes. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(bytes);
  expect(b.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))).toBe(true);
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const idat = b.indexOf("IDAT");
  const len = b.readUInt32BE(idat - 4);
  expect(inflateSync(b.subarray(idat + 4, idat + 4 + len)).length).toBe((width + 1) * height);
  return { width, height };
}

describe("GET /v1/images/{id}.fits", () => {
  test("streams the stored file byte for byte, with the token in a header, the query or the session cookie", async () => {
    const bytes = patternBytes(3 * 1024 * 1024 + 1, 41);
    const { image_id } = storeImage(server.dataDir, bytes);
    for (const [path, headers] of [
      [`/v1/images/${image_id}.fits`, { authorization: `Bearer ${token}` }],
      [`/v1/images/${image_id}.fits?token=${token}`, {}],
      [`/v1/images/${image_id}.fits`, { cookie: `skynet_session=${token}` }],
    ] as const) {
      const res = await get(path, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/fits");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${image_id}.fits"`);
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    }
    const latest = await get("/v1/images/latest.fits");
    expect(latest.headers.get("cache-control")).toBe("no-store");
    expect((await latest.arrayBuffer()).byteLength).toBe(bytes.byteLength);
  });

  test("no token: 401; a token for other telescopes: 403; unknown image or suffix: 404 with the protocol's code", async () => {
    const { image_id } = storeImage(server.dataDir, patternBytes(10, 1));
    expect((await get(`/v1/images/${image_id}.fits`, {})).status).toBe(401);
    const other = await get(`/v1/images/${image_id}.fits`, { authorization: `Bearer ${server.token("otto", "viewer", ["elsewhere"])}` });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: { code: "forbidden" } });
    const missing = await get("/v1/images/nope.fits");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found", message: "no image nope" } });
    expect((await get(`/v1/images/${image_id}.jpeg`)).status).toBe(404);
    expect((await get(`/v1/images/${image_id}.png?size=4`)).status).toBe(400);
  });
});

describe("GET /v1/images/{id}.png", () => {
  test("a real exposure's thumbnail: a PNG at most ?size= on its longer side, the exposure's aspect kept", async () => {
    const res = await get(`/v1/images/${exposed}.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(pngSize(new Uint8Array(await res.arrayBuffer()))).toEqual({ width: 256, height: 192 });
    const small = await get(`/v1/images/${exposed}.png?size=64`);
    expect(pngSize(new Uint8Array(await small.arrayBuffer()))).toEqual({ width: 64, height: 48 });
    // The same rendition as the image.preview direct request.
    const client = await SkynodeClient.connect({ url: server.http, token });
    const preview = await client.request("sim-1", "image.preview", { image_id: exposed, max_size: 64 });
    client.close();
    expect(preview.content_type).toBe("image/png");
    expect(preview.metadata).toMatchObject({ image_id: exposed, width: 64, height: 48, source_width: 512, source_height: 384 });
    expect(Buffer.from(preview.bytes).equals(Buffer.from(await (await get(`/v1/images/${exposed}.png?size=64`)).arrayBuffer()))).toBe(true);
  });
});

describe("the session cookie on image reads", () => {
  test("an <img>-style GET (no Origin) is served on the cookie; a cross-origin one is not; a cookie upgrade still needs Origin", async () => {
    const cookie = `skynet_session=${token}`;
    expect((await get(`/v1/images/${exposed}.png`, { cookie })).status).toBe(200);
    expect((await get(`/v1/images/${exposed}.png`, { cookie, origin: "https://evil.example.com" })).status).toBe(403);
    expect((await get(`/v1/images/${exposed}.png`, { cookie, origin: server.http })).status).toBe(200);
    const upgrade = await fetch(`${server.http}/v1/ws/commands`, { headers: { cookie, upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(upgrade.status).toBe(403);
  });
});
