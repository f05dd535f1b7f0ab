// The baseline of bench/direct.ts: a bare Bun.serve that sends a file's bytes to whoever asks, as 1 MiB binary
// frames (views of the file read once into memory), pausing on backpressure until drain, then a text "end".
// Usage: bun bench/bare-direct-server.ts FILE   (prints "listening on http://127.0.0.1:PORT")
export {};

const CHUNK = 1024 * 1024;
const bytes = await Bun.file(process.argv[2]!).bytes();

type Sending = { offset: number };
const server = Bun.serve<Sending>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    return srv.upgrade(req, { data: { offset: -1 } }) ? undefined : new Response("websocket only", { status: 400 });
  },
  websocket: {
    backpressureLimit: 16 * 1024 * 1024,
    message(ws) {
      ws.data.offset = 0;
      pump(ws);
    },
    drain: (ws) => pump(ws),
  },
});

function pump(ws: import("bun").ServerWebSocket<Sending>): void {
  const s = ws.data;
  if (s.offset < 0) return;
  while (s.offset < bytes.byteLength) {
    const view = bytes.subarray(s.offset, s.offset + CHUNK);
    s.offset += view.byteLength;
    if (ws.sendBinary(view) < 0) return;
  }
  s.offset = -1;
  ws.sendText("end");
}

console.log(`listening on http://127.0.0.1:${server.port}`);
