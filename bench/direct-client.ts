// The load side of bench/direct.ts: fetches the same 50 MB image COUNT times in one mode and prints one JSON line
// per transfer ({mode, bytes, ms}). Modes: binary and base64 (the typed client, app/client, against the appliance),
// bare (1 MiB binary frames from bench/bare-direct-server.ts, copied into one buffer as the client does), http
// (GET /v1/images/{id}.fits, body read whole).
// Usage: bun bench/direct-client.ts MODE URL TOKEN IMAGE_ID COUNT
import { SkynodeClient } from "../app/client";

const [mode, url, token, imageId, countArg] = process.argv.slice(2) as [string, string, string, string, string];
const count = Number(countArg);

async function bare(size: number): Promise<number> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((r) => (ws.onopen = r));
  const out = new Uint8Array(size);
  let offset = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    ws.onmessage = (e) => {
      if (typeof e.data === "string") return resolve();
      const chunk = new Uint8Array(e.data as ArrayBuffer);
      out.set(chunk, offset);
      offset += chunk.byteLength;
    };
    ws.send("go");
  });
  const ms = performance.now() - t0;
  ws.close();
  if (offset !== size) throw new Error(`bare: got ${offset} of ${size} bytes`);
  return ms;
}

const client = mode === "binary" || mode === "base64" ? await SkynodeClient.connect({ url, token, reconnect: false }) : null;
const size = Number(process.argv[7] ?? 0);
for (let i = 0; i < count; i++) {
  let ms: number;
  let bytes: number;
  if (client) {
    const t0 = performance.now();
    const r = await client.request("sim-1", "image.fetch", { image_id: imageId }, { encoding: mode as "binary" | "base64" });
    ms = performance.now() - t0;
    bytes = r.bytes.byteLength;
  } else if (mode === "http") {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/images/${imageId}.fits`, { headers: { authorization: `Bearer ${token}` } });
    bytes = (await res.arrayBuffer()).byteLength;
    ms = performance.now() - t0;
  } else {
    ms = await bare(size);
    bytes = size;
  }
  console.log(JSON.stringify({ mode, bytes, ms }));
}
client?.close();
process.exit(0);
