// Seed 003's Python example, run as a real third-party client (Debian's python3-websockets, used only as a test
// client here): it subscribes to `server_logs` on `/wss` and prints the appliance's log lines as they are written
// (docs/messaging.md). A non-admin token may not subscribe to that topic.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TopicMessage } from "../../app/protocol/topics";
import { removeDir, startServer, tempDir, track, type TestServer } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";

const INSTALL_HINT = "sudo apt-get install -y python3-websockets (or run scripts/ensure-test-deps.sh as root)";
/** Debian's interpreter, the one python3-websockets installs into (a pyenv or venv `python3` earlier on PATH would
 * not see it); `python3` from PATH where there is no /usr/bin/python3. */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** Seed 003's "Example using websockets in Python", verbatim but for three changes: the URL is the appliance's
 * (`ws://127.0.0.1:PORT/wss`, no TLS on loopback) with a real admin token in `jwt_token`; the `import json` the
 * seed forgot (it calls `json.dumps`) is added; the two prints flush, so that the test reads each line as it is
 * printed through a pipe. */
function seed003Python(port: number, jwtToken: string): string {
  return `import asyncio
import json
import websockets

async def connect_to_websocket():
    jwt_token = "${jwtToken}"
    ws_url = f"ws://127.0.0.1:${port}/wss?token={jwt_token}"
    async with websockets.connect(ws_url) as websocket:
        print("Connected to WebSocket", flush=True)
        # Subscribe to a topic
        await websocket.send(json.dumps({"action": "subscribe", "topic": "server_logs"}))
        # Receive messages
        async for message in websocket:
            print(f"Received message: {message}", flush=True)

asyncio.run(connect_to_websocket())
`;
}

/** Reads a child's stdout line by line; `next` waits (event-driven, with a deadline) for the first unread line
 * matching a predicate. */
class LineReader {
  private readonly lines: string[] = [];
  private read = 0;
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      const decoder = new TextDecoder();
      let partial = "";
      for await (const chunk of stream) {
        partial += decoder.decode(chunk, { stream: true });
        const parts = partial.split("\n");
        partial = parts.pop()!;
        this.lines.push(...parts);
        this.wake?.();
      }
      if (partial) this.lines.push(partial);
      this.ended = true;
      this.wake?.();
    })();
  }

  all(): string[] {
    return [...this.lines];
  }

  async next(pred: (line: string) => boolean, timeoutMs: number, why: () => string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.read < this.lines.length) {
        const line = this.lines[this.read++]!;
        if (pred(line)) return line;
      }
      if (this.ended) throw new Error(`the Python client's output ended first\n${why()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching line within ${timeoutMs} ms\n${why()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}

const PREFIX = "Received message: ";
const printed = (line: string): Record<string, any> | null => {
  if (!line.startsWith(PREFIX)) return null;
  return JSON.parse(line.slice(PREFIX.length)) as Record<string, any>;
};

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = tempDir("skynode-seed003-");
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  removeDir(dir);
  removeDir(server.dataDir);
});

describe("seed 003: /wss topics", () => {
  test("the seed's Python example (python3-websockets) subscribes to server_logs and receives the appliance's log lines", async () => {
    // Never skipped: without the interpreter or the module, the test fails with the install hint.
    let problem: string | null;
    try {
      const probe = Bun.spawnSync([PYTHON, "-c", "import websockets"], { stdout: "pipe", stderr: "pipe" });
      problem = probe.success ? null : probe.stderr.toString().trim() || `exit ${probe.exitCode}`;
    } catch (err) {
      problem = (err as Error).message; // no interpreter at all
    }
    if (problem !== null) throw new Error(`seed 003's Python example needs python3 with the websockets module (${PYTHON}: ${problem}): ${INSTALL_HINT}`);

    const script = join(dir, "seed_003_example.py");
    writeFileSync(script, seed003Python(server.port, server.token("ada", "admin")));
    const py = Bun.spawn([PYTHON, script], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    track(py);
    let stderr = "";
    void (async () => {
      for await (const chunk of py.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
    })();
    const out = new LineReader(py.stdout as ReadableStream<Uint8Array>);
    const why = () => `python stdout:\n${out.all().join("\n")}\npython stderr:\n${stderr}\nserver log (tail):\n${server.logs().slice(-3000)}`;

    try {
      await out.next((l) => l === "Connected to WebSocket", 10_000, why);
      // The subscription's answer, then something identifiable in the server's log: a failed sign-in, which the
      // server logs at warn with the name tried.
      const ack = printed(await out.next((l) => printed(l)?.kind === "ack", 5_000, why));
      expect(ack).toEqual({ kind: "ack", action: "subscribe", topic: "server_logs" });

      const name = `seed003-${crypto.randomUUID().slice(0, 8)}`;
      const t0 = Date.now();
      const res = await fetch(`${server.http}/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, password: "not the password" }),
      });
      expect(res.status).toBe(401);

      const line = await out.next((l) => {
        const m = printed(l);
        return m?.kind === "message" && m.data?.data?.name === name;
      }, 10_000, why);
      const delivery = printed(line)!;
      expect(TopicMessage.safeParse(delivery).success).toBe(true);
      expect(delivery).toMatchObject({
        kind: "message",
        topic: "server_logs",
        from: "server",
        data: { name: "log", type: "warn", data: { msg: "failed sign-in", name } },
      });
      const sentAt = Date.parse(delivery.sent_at);
      expect(sentAt).toBeGreaterThanOrEqual(t0 - 1000);
      expect(sentAt).toBeLessThanOrEqual(Date.now() + 1000);
      // The structured pino record, as the server's own log has it.
      expect(delivery.data.data.level).toBe(40);
      expect(server.logs()).toContain(name);
      // Every other delivery printed so far is a server_logs delivery from the server too.
      for (const l of out.all()) {
        const m = printed(l);
        if (m?.kind === "message") expect(m).toMatchObject({ topic: "server_logs", from: "server", data: { name: "log" } });
      }
    } finally {
      py.kill("SIGKILL");
      await py.exited;
    }
  }, 30_000);

  test("a non-admin token's subscribe to server_logs is forbidden; the socket stays open", async () => {
    for (const role of ["viewer", "operator", "owner"] as const) {
      const ws = await TestClient.connect(`${server.ws}/wss?token=${server.token(`nobody-${role}`, role)}`);
      ws.send({ action: "subscribe", topic: "server_logs", id: "s1" });
      const answer = await ws.next((f) => f.id === "s1");
      expect(answer).toMatchObject({ kind: "error", code: "forbidden", id: "s1" });
      expect(typeof answer.message).toBe("string");
      // Still open and answering: a user topic is fine for any role.
      ws.send({ action: "subscribe", topic: "chat.room-1", id: "s2" });
      expect(await ws.next((f) => f.id === "s2")).toEqual({ kind: "ack", action: "subscribe", topic: "chat.room-1", id: "s2" });
      expect(ws.closed).toBeNull();
      ws.socket.close();
    }
  });
});
