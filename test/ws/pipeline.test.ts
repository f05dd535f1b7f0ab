// The frame pipeline's guard: whatever a handler does, the frame gets one answer in the endpoint's shape and nothing
// escapes (an exception in a Bun WebSocket handler ends the process).
import { expect, test } from "bun:test";
import pino from "pino";
import { z } from "zod";
import type { Endpoint } from "../../app/ws/endpoint";
import { FramePipeline } from "../../app/ws/pipeline";
import { RequestError } from "../../app/ws/request-error";
import type { WsSocket } from "../../app/ws/socket";

const Msg = z.strictObject({ kind: z.enum(["throw", "reject", "refuse", "ok", "bigint"]), id: z.string().optional() });
type Msg = z.infer<typeof Msg>;

function harness() {
  const sent: string[] = [];
  const closed: { code?: number; reason?: string }[] = [];
  const socket: WsSocket = {
    sendText: (t) => (sent.push(t), 1),
    sendBinary: () => 1,
    subscribe: () => {},
    unsubscribe: () => {},
    cork: (f) => f(),
    close: (code, reason) => void closed.push({ code, reason }),
  };
  const endpoint: Endpoint<object, Msg> = {
    name: "test",
    schema: Msg,
    open: () => ({}),
    handle(_conn, m) {
      if (m.kind === "throw") throw new RangeError("Maximum call stack size exceeded.");
      if (m.kind === "reject") return Promise.reject(new Error("later"));
      if (m.kind === "refuse") throw new RequestError("conflict", "busy", { why: "test" });
      if (m.kind === "bigint") JSON.stringify({ n: 1n });
      socket.sendText(JSON.stringify({ ok: m.id }));
    },
    close: () => {},
    error: (_c, r) => JSON.stringify({ error: r.code, id: r.id, message: r.message, details: r.details }),
    idOf: (raw) => (raw as { id?: string }).id,
    label: (m) => m.kind,
  };
  const logged: unknown[] = [];
  const log = pino({ level: "error" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const pipeline = new FramePipeline(endpoint, { maxFrameBytes: 1024, maxJsonDepth: 8, framesPerSecond: null }, log);
  const session = pipeline.session({}, socket, true);
  return { frame: (d: string | Buffer) => pipeline.frame(session, d), sent, closed, logged };
}

test("a throw or a rejection is answered internal and logged with the frame's kind; a RequestError keeps its code", async () => {
  const h = harness();
  h.frame(JSON.stringify({ kind: "throw", id: "a" }));
  h.frame(JSON.stringify({ kind: "refuse", id: "b" }));
  h.frame(JSON.stringify({ kind: "bigint", id: "c" }));
  h.frame(JSON.stringify({ kind: "reject", id: "d" }));
  await Bun.sleep(0);
  h.frame(JSON.stringify({ kind: "ok", id: "e" }));
  expect(h.sent.map((t) => JSON.parse(t))).toEqual([
    { error: "internal", id: "a", message: "internal error: Maximum call stack size exceeded." },
    { error: "conflict", id: "b", message: "busy", details: { why: "test" } },
    { error: "internal", id: "c", message: expect.stringContaining("internal error") },
    { error: "internal", id: "d", message: "internal error: later" },
    { ok: "e" },
  ]);
  expect(h.logged.map((l) => (l as { kind: string }).kind)).toEqual(["throw", "bigint", "reject"]);
});

test("bad frames are answered invalid before any handler runs: binary, oversize, too deep, not JSON, wrong schema", () => {
  const h = harness();
  h.frame(Buffer.from([1, 2, 3]));
  h.frame("x".repeat(2000));
  h.frame("[".repeat(500));
  h.frame('{"kind":');
  h.frame(JSON.stringify({ kind: "nope", id: "z" }));
  const answers = h.sent.map((t) => JSON.parse(t));
  expect(answers.map((a) => a.error)).toEqual(["invalid", "invalid", "invalid", "invalid", "invalid"]);
  expect(answers[2].message).toContain("deeper than 8");
  expect(answers[4].id).toBe("z");
  expect(h.logged).toEqual([]);
});

test('a key named "__proto__" anywhere is refused invalid with its path, never dropped silently', () => {
  const h = harness();
  h.frame('{"kind":"ok","id":"p","__proto__":{"polluted":true}}');
  h.frame('{"kind":"ok","id":"q","x":[{"a":{"__proto__":1}}]}');
  h.frame('{"kind":"ok","id":"r","note":"__proto__ in a string is fine"}');
  expect(h.sent.map((t) => JSON.parse(t))).toEqual([
    { error: "invalid", id: "p", message: '__proto__: a key named "__proto__" is not accepted' },
    { error: "invalid", id: "q", message: 'x.0.a.__proto__: a key named "__proto__" is not accepted' },
    // The word in a string is no key: this one fails only the schema (which has no "note").
    { error: "invalid", id: "r", message: expect.stringContaining("note"), details: expect.any(Object) },
  ]);
});
