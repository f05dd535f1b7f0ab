// Flow control (issue: a slow reader keeps server memory bounded; a closed socket frees everything at once): a
// client that stops reading from its TCP socket must not make the server buffer the file, nor drop frames.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { patternBytes, storeImage } from "../helpers/images";
import { openFdsTo, rssOf } from "../helpers/procfs";
import { RawWebSocket, type RawFrame } from "../helpers/raw-ws";
import { startServer, type TestServer } from "../helpers/server";

const MB = 1024 * 1024;
const SIZE = 50 * 1000 * 1000;
let server: TestServer;
let file: { image_id: string; path: string; bytes: Uint8Array };

beforeAll(async () => {
  server = await startServer();
  const bytes = patternBytes(SIZE, 21);
  file = { bytes, ...storeImage(server.dataDir, bytes) };
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});


/** Polls until `value()` has not changed by more than `tolerance` for `quietMs` (the server has stopped sending). */
async function settled(value: () => number, tolerance: number, quietMs = 400, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await Bun.sleep(50);
    const v = value();
    if (Math.abs(v - last) > tolerance) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return v;
  }
  throw new Error("did not settle");
}

/** The request's end or error has arrived (it is the last frame the server sends for it). */
function finished(frames: RawFrame[], id: string): boolean {
  const last = frames.at(-1);
  if (!last || !("text" in last) || !last.text.includes(`"request_id":${JSON.stringify(id)}`)) return false;
  return last.text.includes('"kind":"direct_response_end"') || last.text.includes('"kind":"direct_error"');
}

function reassemble(frames: RawFrame[], id: string): { bytes: Buffer; ended: boolean; error?: Record<string, unknown> } {
  const parts: Uint8Array[] = [];
  let expectBinary = false;
  let ended = false;
  let error: Record<string, unknown> | undefined;
  for (const f of frames) {
    if ("binary" in f) {
      if (expectBinary) parts.push(f.binary);
      expectBinary = false;
      continue;
    }
    const m = JSON.parse(f.text);
    if (m.request_id !== id) continue;
    if (m.kind === "direct_response_chunk") {
      if (m.data_b64 !== undefined) parts.push(Buffer.from(m.data_b64, "base64"));
      else expectBinary = true;
    }
    if (m.kind === "direct_response_end") ended = true;
    if (m.kind === "direct_error") error = m;
  }
  return { bytes: Buffer.concat(parts), ended, error };
}

describe("a reader that stops reading", () => {
  for (const encoding of ["binary", "base64"] as const) {
    test(`${encoding}: the server holds a few chunks, not the file, and drops nothing; resumed, the bytes are exact`, async () => {
      const pid = server.proc.pid;
      const token = server.token("slow", "viewer");
      const request = (ws: RawWebSocket, id: string) =>
        ws.sendText(JSON.stringify({ kind: "direct_request", request_id: id, telescope_uid: "sim-1", request_type: "image.fetch", payload: { image_id: file.image_id, ...(encoding === "binary" ? { accept: ["binary"] } : {}) } }));
      // Warm up the path (JIT, buffers, allocator) with one full-speed transfer so the baseline is its steady state.
      const warm = await RawWebSocket.connect(server.port, `/v1/ws/commands?token=${token}`);
      request(warm, "warm");
      await warm.until((fs) => finished(fs, "warm"));
      warm.close();
      const before = await settled(() => rssOf(pid), 256 * 1024);

      const slow = await RawWebSocket.connect(server.port, `/v1/ws/commands?token=${token}`);
      slow.pause();
      request(slow, "slow");
      // The kernel's socket buffers fill, then the server stops: its memory must not have taken the rest.
      const stalled = await settled(() => rssOf(pid), 256 * 1024);
      const growth = stalled - before;
      console.log(`${encoding}: server RSS ${(before / MB).toFixed(1)} MiB before, +${(growth / MB).toFixed(1)} MiB with a stalled 50 MB transfer`);
      // Binary: the read-ahead (2 chunks of 1 MiB) and one frame in Bun's socket buffer. Base64 also leaves the
      // encoded strings of the chunks the kernel's buffers took as garbage until the next collection. Without flow
      // control Bun would buffer 16 MiB, and then drop frames (which the exact bytes below would show).
      expect(growth).toBeLessThan((encoding === "binary" ? 8 : 24) * MB);
      expect(openFdsTo(pid, file.path)).toBe(1);

      slow.resume();
      await slow.until((fs) => finished(fs, "slow"), 60_000);
      const r = reassemble(slow.frames, "slow");
      expect(r.error).toBeUndefined();
      expect(r.bytes.equals(Buffer.from(file.bytes))).toBe(true);
      slow.close();
    }, 90_000);
  }

  test("closing the socket mid-transfer releases the file and the buffers at once; other sockets carry on", async () => {
    const pid = server.proc.pid;
    const token = server.token("quitter", "viewer");
    const socks = await Promise.all([0, 1, 2].map(() => RawWebSocket.connect(server.port, `/v1/ws/commands?token=${token}`)));
    for (const [i, s] of socks.entries()) {
      s.pause();
      s.sendText(JSON.stringify({ kind: "direct_request", request_id: `q${i}`, telescope_uid: "sim-1", request_type: "image.fetch", payload: { image_id: file.image_id, accept: ["binary"] } }));
    }
    await settled(() => rssOf(pid), 256 * 1024);
    expect(openFdsTo(pid, file.path)).toBe(3);
    socks[0]!.close();
    socks[1]!.close();
    const deadline = Date.now() + 5000;
    while (openFdsTo(pid, file.path) > 1 && Date.now() < deadline) await Bun.sleep(10);
    expect(openFdsTo(pid, file.path)).toBe(1);
    socks[2]!.resume();
    await socks[2]!.until((fs) => finished(fs, "q2"), 60_000);
    expect(reassemble(socks[2]!.frames, "q2").bytes.equals(Buffer.from(file.bytes))).toBe(true);
    socks[2]!.close();
    while (openFdsTo(pid, file.path) > 0 && Date.now() < deadline + 5000) await Bun.sleep(10);
    expect(openFdsTo(pid, file.path)).toBe(0);
  }, 90_000);
});
