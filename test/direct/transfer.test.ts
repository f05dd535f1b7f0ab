// Direct requests on the appliance (seed 001 + DESIGN.md §3): both encodings byte-exact for every size class,
// interleaving on one socket, errors by code, a file removed mid-stream, and the typed client on top.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { unlinkSync } from "node:fs";
import { SkynodeClient, SkynodeError } from "../../app/client";
import { patternBytes, storeImage } from "../helpers/images";
import { startServer, type TestServer } from "../helpers/server";
import { TestClient, type Frame } from "../helpers/ws-client";

const CHUNK = 64 * 1024;
let server: TestServer;
let viewerToken: string;

beforeAll(async () => {
  server = await startServer({ config: `[server]\ndirect_chunk_bytes = ${CHUNK}\n` });
  viewerToken = server.token("vera", "viewer");
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const commandsSocket = (token = viewerToken) => TestClient.connect(`${server.ws}/v1/ws/commands?token=${token}`);

/** Sends a request and collects its frames up to its end or error, with the binary frames in arrival order. */
async function fetchRaw(c: TestClient, requestId: string, payload: Record<string, unknown>, requestType = "image.fetch") {
  const binaryBefore = c.binary.length;
  c.send({ kind: "direct_request", request_id: requestId, telescope_uid: "sim-1", request_type: requestType, payload });
  const frames: Frame[] = [];
  while (true) {
    const f = await c.next((x) => x.request_id === requestId, 30_000);
    frames.push(f);
    if (f.kind === "direct_response_end" || f.kind === "direct_error") break;
  }
  return { frames, binary: c.binary.slice(binaryBefore) };
}

describe("image.fetch in both encodings", () => {
  const sizes = { empty: 0, "one byte": 1, "chunk-aligned": 3 * CHUNK, "50 MB": 50 * 1000 * 1000 };
  for (const [label, size] of Object.entries(sizes)) {
    test(`${label} (${size} B): base64 JSON chunks and binary frames both give the stored bytes exactly`, async () => {
      const bytes = patternBytes(size, size + 7);
      const { image_id } = storeImage(server.dataDir, bytes, "sim-1", { width: 1, height: size, bitpix: 8 });
      const c = await commandsSocket();
      const expectedChunks = Math.ceil(size / CHUNK);

      // The seed's encoding: every chunk a JSON frame with data_b64, no binary frame at all.
      const b64 = await fetchRaw(c, "b64", { image_id });
      const start = b64.frames[0]!;
      expect(start).toEqual({ kind: "direct_response_start", request_id: "b64", content_type: "image/fits", total_size: size, metadata: expect.objectContaining({ image_id, width: 1, height: size, bitpix: 8 }) });
      expect(start.encoding).toBeUndefined();
      const chunks = b64.frames.slice(1, -1);
      expect(chunks.length).toBe(expectedChunks);
      expect(chunks.every((f) => f.kind === "direct_response_chunk" && Object.keys(f).join() === "kind,request_id,data_b64")).toBe(true);
      expect(b64.frames.at(-1)).toEqual({ kind: "direct_response_end", request_id: "b64" });
      expect(b64.binary.length).toBe(0);
      const decoded = Buffer.concat(chunks.map((f) => Buffer.from(f.data_b64, "base64")));
      expect(decoded.equals(bytes)).toBe(true);

      // Binary: a header per chunk (seq, size, no data), each followed by exactly that chunk as one binary frame.
      const bin = await fetchRaw(c, "bin", { image_id, accept: ["binary"] });
      expect(bin.frames[0]).toMatchObject({ kind: "direct_response_start", total_size: size, encoding: "binary" });
      const headers = bin.frames.slice(1, -1);
      expect(headers.map((h) => h.seq)).toEqual([...Array(expectedChunks).keys()]);
      expect(headers.every((h) => h.data_b64 === undefined)).toBe(true);
      expect(bin.binary.map((b) => b.byteLength)).toEqual(headers.map((h) => h.size));
      expect(Buffer.concat(bin.binary).equals(bytes)).toBe(true);
      expect(bin.frames.at(-1)!.kind).toBe("direct_response_end");
      c.close();
    }, 60_000);
  }

  test("the typed client reassembles the latest image in both encodings and checks total_size", async () => {
    const bytes = patternBytes(5 * CHUNK + 123, 99);
    const { image_id } = storeImage(server.dataDir, bytes);
    const client = await SkynodeClient.connect({ url: server.http, token: viewerToken });
    for (const encoding of ["binary", "base64"] as const) {
      const progress: number[] = [];
      const r = await client.request("sim-1", "image.fetch", {}, { encoding, onProgress: (p) => progress.push(p.received) });
      expect(r.content_type).toBe("image/fits");
      expect(r.metadata.image_id).toBe(image_id);
      expect(Buffer.from(r.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(progress.at(-1)).toBe(bytes.byteLength);
    }
    client.close();
  });
});

describe("several requests on one socket", () => {
  test("interleave chunk by chunk, mixed encodings, each reassembling to its own bytes", async () => {
    const files = [patternBytes(200 * CHUNK, 1), patternBytes(150 * CHUNK + 5, 2), patternBytes(170 * CHUNK - 9, 3)].map((b) => ({ b, ...storeImage(server.dataDir, b) }));
    const c = await commandsSocket();
    files.forEach((f, i) => c.send({ kind: "direct_request", request_id: `r${i}`, telescope_uid: "sim-1", request_type: "image.fetch", payload: { image_id: f.image_id, ...(i !== 1 ? { accept: ["binary"] } : {}) } }));
    const ended = new Set<string>();
    const order: string[] = [];
    const got: Buffer[][] = [[], [], []];
    let binaryIndex = 0;
    while (ended.size < 3) {
      const f = await c.next(() => true, 30_000);
      const i = Number(String(f.request_id).slice(1));
      if (f.kind === "direct_response_chunk") {
        order.push(f.request_id);
        // A binary header's frame is the very next binary frame on the socket: under one cork, nothing between.
        if (f.data_b64 !== undefined) got[i]!.push(Buffer.from(f.data_b64, "base64"));
        else {
          await Bun.sleep(0);
          while (c.binary.length <= binaryIndex) await Bun.sleep(1);
          got[i]!.push(Buffer.from(c.binary[binaryIndex++]!));
        }
      }
      if (f.kind === "direct_response_end") ended.add(f.request_id);
      expect(f.kind).not.toBe("direct_error");
    }
    files.forEach((f, i) => expect(Buffer.concat(got[i]!).equals(Buffer.from(f.b))).toBe(true));
    // Round robin: from the moment all three stream (a request starts when its frame is read, so the first may
    // have sent some chunks alone) until the first ends, they take turns; none waits for another to finish.
    const allStarted = Math.max(...["r0", "r1", "r2"].map((id) => order.indexOf(id)));
    const lastChunkOf = (id: string) => order.lastIndexOf(id);
    const firstDone = Math.min(...["r0", "r1", "r2"].map(lastChunkOf));
    const window = order.slice(allStarted, firstDone + 1);
    expect(window.length).toBeGreaterThan(60);
    let longestRun = 1;
    for (let k = 1, run = 1; k < window.length; k++) longestRun = Math.max(longestRun, (run = window[k] === window[k - 1] ? run + 1 : 1));
    // A turn is skipped only while that request's next chunk is still being read from disk.
    // (Measured here: 2-3, also with a core kept busy; one request streaming alone would run 150 and more.)
    expect(longestRun).toBeLessThanOrEqual(6);
    c.close();
  }, 60_000);

  test("a request id already open on the socket is refused with conflict; the first goes on", async () => {
    // Large enough that the first cannot have finished (all of it in the kernel's socket buffers) before the
    // second frame is read.
    const { image_id, path } = storeImage(server.dataDir, patternBytes(40 * 1000 * 1000, 5));
    const c = await commandsSocket();
    c.send({ kind: "direct_request", request_id: "same", telescope_uid: "sim-1", request_type: "image.fetch", payload: { image_id, accept: ["binary"] } });
    c.send({ kind: "direct_request", request_id: "same", telescope_uid: "sim-1", request_type: "image.list" });
    const err = await c.kind("direct_error");
    expect(err).toMatchObject({ request_id: "same", code: "conflict" });
    await c.kind("direct_response_end", 30_000);
    expect(Buffer.concat(c.binary).equals(Buffer.from(await Bun.file(path).bytes()))).toBe(true);
    c.close();
  });
});

describe("errors", () => {
  test("unknown type or telescope: not_found; bad payload: invalid; telescope not granted: forbidden", async () => {
    const c = await commandsSocket();
    const ask = async (m: Record<string, unknown>) => {
      c.send({ kind: "direct_request", telescope_uid: "sim-1", request_type: "image.fetch", ...m });
      return await c.next((f) => f.request_id === m.request_id);
    };
    expect(await ask({ request_id: "t", request_type: "image.teleport" })).toMatchObject({ kind: "direct_error", code: "not_found", message: expect.stringContaining("image.fetch, image.list, image.preview, log.export") });
    expect(await ask({ request_id: "u", telescope_uid: "elsewhere" })).toMatchObject({ kind: "direct_error", code: "not_found" });
    expect(await ask({ request_id: "i", payload: { image_id: "no-such-image" } })).toMatchObject({ kind: "direct_error", code: "not_found", message: expect.stringContaining("no-such-image") });
    expect(await ask({ request_id: "p", payload: { image_id: 42 } })).toMatchObject({ kind: "direct_error", code: "invalid", message: expect.stringContaining("payload.image_id") });
    expect(await ask({ request_id: "x", payload: { imageid: "typo" } })).toMatchObject({ kind: "direct_error", code: "invalid" });
    expect(await ask({ request_id: "a", payload: { accept: "binary" } })).toMatchObject({ kind: "direct_error", code: "invalid", message: expect.stringContaining("accept") });
    expect(await ask({ request_id: "s", request_type: "image.preview", payload: { max_size: 5000 } })).toMatchObject({ kind: "direct_error", code: "invalid" });
    // A malformed request is an `error` envelope (it cannot be routed at all), answered by its request id.
    c.send({ kind: "direct_request", request_id: "m", telescope_uid: "sim-1" });
    expect(await c.next((f) => f.id === "m")).toMatchObject({ kind: "error", code: "invalid" });
    c.close();

    const other = await commandsSocket(server.token("otto", "viewer", ["other-scope"]));
    other.send({ kind: "direct_request", request_id: "f", telescope_uid: "sim-1", request_type: "image.list" });
    expect(await other.next((f) => f.id === "f")).toMatchObject({ kind: "error", code: "forbidden" });
    other.close();
  });

  test("the file removed while it streams: direct_error internal mid-stream, no end; the client discards", async () => {
    for (const encoding of ["binary", "base64"] as const) {
      const { image_id, path } = storeImage(server.dataDir, patternBytes(50 * 1000 * 1000, 11));
      const c = await commandsSocket();
      c.send({ kind: "direct_request", request_id: "gone", telescope_uid: "sim-1", request_type: "image.fetch", payload: { image_id, ...(encoding === "binary" ? { accept: ["binary"] } : {}) } });
      await c.kind("direct_response_chunk", 30_000);
      unlinkSync(path);
      const err = await c.kind("direct_error", 30_000);
      expect(err).toMatchObject({ request_id: "gone", code: "internal", message: expect.stringContaining("removed") });
      const chunks = c.received.filter((f) => f.kind === "direct_response_chunk").length;
      expect(chunks).toBeGreaterThan(0);
      expect(chunks).toBeLessThan(Math.ceil(50e6 / CHUNK));
      expect(c.received.some((f) => f.kind === "direct_response_end")).toBe(false);
      c.close();
    }
    // The typed client rejects with the error and hands back nothing of what it had.
    const { image_id, path } = storeImage(server.dataDir, patternBytes(50 * 1000 * 1000, 12));
    const client = await SkynodeClient.connect({ url: server.http, token: viewerToken });
    let removed = false;
    const p = client.request("sim-1", "image.fetch", { image_id }, { onProgress: () => !removed && ((removed = true), unlinkSync(path)) });
    const e = await p.then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(SkynodeError);
    expect((e as SkynodeError).code).toBe("internal");
    client.close();
  }, 60_000);
});

describe("the other request types", () => {
  test("image.list, image.preview (a PNG) and log.export (NDJSON lines)", async () => {
    const client = await SkynodeClient.connect({ url: server.http, token: viewerToken });
    const { image_id } = storeImage(server.dataDir, patternBytes(1000, 3));
    const list = await client.request("sim-1", "image.list", { limit: 2 });
    expect(list.content_type).toBe("application/json");
    const body = JSON.parse(new TextDecoder().decode(list.bytes));
    expect(body.telescope_uid).toBe("sim-1");
    expect(body.images.length).toBe(2);
    expect(body.images[0]).toMatchObject({ image_id, size_bytes: 1000 });
    expect(list.metadata).toEqual({ count: 2 });

    // A real exposure's preview needs the FITS the camera wrote; a stored non-FITS fails as internal, clearly.
    const bad = await client.request("sim-1", "image.preview", { image_id }).catch((e: SkynodeError) => e);
    expect(bad).toMatchObject({ code: "internal", message: expect.stringContaining("cannot be decoded") });

    const log = await client.request("sim-1", "log.export", {}, { encoding: "base64" });
    expect(log.content_type).toBe("application/x-ndjson");
    const lines = new TextDecoder().decode(log.bytes).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === "SkyNode started")).toBe(true);
    expect(lines.every((l) => typeof l.time === "number" && typeof l.level === "number")).toBe(true);
    client.close();
  });
});
