// Baseline for the fan-out benchmark: a bare Bun.serve WebSocket server (no Elysia, no auth, no parsing).
// `/sub` sockets join topic "t" on open and get one ack frame; every frame a `/pub` socket sends is
// `server.publish("t", data)` verbatim. Usage: bun bench/bare-server.ts [port]; prints `listening on http://HOST:PORT`.

const ACK = JSON.stringify({ kind: "ack", id: "dash" });

type Data = { role: "pub" | "sub" };

const server = Bun.serve<Data, never>({
  hostname: "127.0.0.1",
  port: Number(Bun.argv[2] ?? 0),
  fetch(req, srv) {
    const path = new URL(req.url).pathname;
    const role = path === "/pub" ? "pub" : path === "/sub" ? "sub" : null;
    if (role && srv.upgrade(req, { data: { role } })) return undefined;
    return new Response("not found", { status: 404 });
  },
  // The same socket settings the skynode app gives Elysia (app/server/app.ts).
  websocket: {
    maxPayloadLength: 4 * 1024 * 1024,
    idleTimeout: 120,
    sendPings: true,
    open(ws) {
      if (ws.data.role === "sub") {
        ws.subscribe("t");
        ws.sendText(ACK);
      }
    },
    message(ws, data) {
      if (ws.data.role === "pub") server.publish("t", data);
    },
  },
});

console.log(`listening on http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => {
  void server.stop(true);
  process.exit(0);
});
