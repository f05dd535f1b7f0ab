// Seed 004's examples in a real browser (headless Chromium) against the appliance: its TypeScript connection
// example (section 2.C) opens three clients in two groups, which send its four targeting examples (section 4)
// verbatim, its command and heartbeat examples (section 5); each page's onmessage records what it received, and
// the test checks the server-filled fields and that exactly the right clients got each message (docs/messaging.md).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { GroupMessage } from "../../app/protocol/group-messages";
import { launchChromium } from "../helpers/browser";
import { removeDir, startServer, type TestServer } from "../helpers/server";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Seed 004, section 2.C "Connection Example (TypeScript)", verbatim. */
const SEED_004_CONNECT = `const group_id = "event_abc123"; // Any unique string identifying the shared channel
const client_id = String(Date.now()); // Any unique string identifying this client connection
const api_key = import.meta.env.VITE_API_KEY;
const jwt = getSessionToken(); // your JWT helper
const ws_url = \`wss://dev-api.oneskyit.com/v3/ws/group/\${group_id}/client/\${client_id}?api_key=\${api_key}&jwt=\${jwt}\`;
const socket = new WebSocket(ws_url);
socket.onopen = () => {
console.log("Connected to Aether WS V3");
};`;

/** The example as page JavaScript, the only changes: the URL is the appliance's (`ws://127.0.0.1:${port}`, no TLS on
 * loopback); `import.meta.env` (a Vite build's) becomes an `env` object in scope; and, for the clients that do not
 * use the seed's own ids (`"event_abc123"`, `String(Date.now())`), the group and client id literals. `env`,
 * `getSessionToken` and `port` are supplied by the page; the socket and client id are handed back. */
function seed004ConnectJs(ids: { group_id?: string; client_id?: string } = {}): string {
  let js = SEED_004_CONNECT.replace("wss://dev-api.oneskyit.com", "ws://127.0.0.1:${port}").replace("import.meta.env.VITE_API_KEY", "env.VITE_API_KEY");
  if (ids.group_id !== undefined) js = js.replace(`"event_abc123"`, JSON.stringify(ids.group_id));
  if (ids.client_id !== undefined) js = js.replace("String(Date.now())", JSON.stringify(ids.client_id));
  return `${js}\nreturn { socket, client_id };`;
}

/** Seed 004, section 4, the four targeting examples, verbatim (B's `to_id` placeholder is replaced by the real
 * client id at send time). */
const SEED_004_GROUP = `{
"msg_type": "msg",
"target": "group",
"msg": "Hello team!"
}`;
const SEED_004_DIRECT = `{
"msg_type": "msg",
"target": "direct",
"to_id": "target_client_random_id",
"msg": "Private message just for you."
}`;
const SEED_004_BROADCAST = `{
"msg_type": "cmd",
"target": "broadcast",
"cmd": "MAINTENANCE_WARNING"
}`;
const SEED_004_ECHO = `{
"msg_type": "msg",
"target": "echo",
"msg": "Ping!"
}`;
/** Section 5: the command and heartbeat examples, verbatim. */
const SEED_004_CMD = `{
"msg_type": "cmd",
"target": "group",
"cmd": "RELOAD_UI",
"payload": { "force": true }
}`;
const SEED_004_HEARTBEAT = `{
"msg_type": "heartbeat",
"target": "echo"
}`;

let browser: Browser;
let server: TestServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startServer()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
  removeDir(server.dataDir);
});

/** A machine key from the CLI, as an operator would issue one (`apikey issue --name NAME --data DIR`). */
function issueApiKey(name: string): string {
  const p = Bun.spawnSync([process.execPath, "app/main.ts", "apikey", "issue", "--name", name, "--data", server.dataDir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString().trim();
  if (p.exitCode !== 0) throw new Error(`apikey issue exited ${p.exitCode}: ${p.stderr.toString()}${out}`);
  // It prints the key alone, once (only its hash is kept).
  expect(out).toMatch(/^\S+$/);
  return out;
}

interface PageState {
  sockets: Record<string, WebSocket>;
  received: Record<string, Record<string, any>[]>;
  closed: Record<string, { code: number; reason: string }>;
}

interface Opened {
  page: Page;
  errors: string[];
  console: string[];
}

async function openPage(): Promise<Opened> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const logs: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => logs.push(m.text()));
  // A page of the appliance's own origin (its health check; the page itself plays no part): Chromium's local
  // network access checks refuse a loopback WebSocket from about:blank's opaque origin.
  await page.goto(`${server.http}/healthz`);
  await page.evaluate(() => {
    (globalThis as unknown as { __v3: unknown }).__v3 = { sockets: {}, received: {}, closed: {} };
  });
  return { page, errors, console: logs };
}

/** Runs the seed's connection example in the page for client `label`; resolves with the client id once open. */
async function connect(page: Page, label: string, js: string, apiKey: string, jwt: string): Promise<string> {
  return await page.evaluate(
    async ({ label, js, apiKey, jwt, port }) => {
      const s = (globalThis as unknown as { __v3: PageState }).__v3;
      const run = new Function("env", "getSessionToken", "port", js) as (env: unknown, getSessionToken: () => string, port: number) => { socket: WebSocket; client_id: string };
      const { socket, client_id } = run({ VITE_API_KEY: apiKey }, () => jwt, port);
      s.sockets[label] = socket;
      s.received[label] = [];
      socket.addEventListener("message", (event) => s.received[label]!.push(JSON.parse(String(event.data))));
      socket.addEventListener("close", (event) => (s.closed[label] = { code: event.code, reason: event.reason }));
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve());
        socket.addEventListener("close", (event) => reject(new Error(`closed before open: ${event.code} ${event.reason}`)));
      });
      return client_id;
    },
    { label, js, apiKey, jwt, port: server.port },
  );
}

async function send(page: Page, label: string, text: string): Promise<void> {
  await page.evaluate(({ label, text }) => (globalThis as unknown as { __v3: PageState }).__v3.sockets[label]!.send(text), { label, text });
}

/** Waits until client `label` has received `n` messages other than presence. */
async function waitCount(page: Page, label: string, n: number): Promise<void> {
  await page.waitForFunction(
    ({ label, n }) => ((globalThis as unknown as { __v3: PageState }).__v3.received[label] ?? []).filter((m) => m.msg_type !== "presence").length >= n,
    { label, n },
    { timeout: 10_000 },
  );
}

/** Waits until client `label` has received a presence message with this payload event (and client id). */
async function waitPresence(page: Page, label: string, event: string, client_id?: string): Promise<void> {
  await page.waitForFunction(
    ({ label, event, client_id }) =>
      ((globalThis as unknown as { __v3: PageState }).__v3.received[label] ?? []).some(
        (m) => m.msg_type === "presence" && m.payload?.event === event && (client_id === undefined || m.payload?.client_id === client_id),
      ),
    { label, event, client_id },
    { timeout: 10_000 },
  );
}

async function received(page: Page, label: string): Promise<Record<string, any>[]> {
  return await page.evaluate((label) => (globalThis as unknown as { __v3: PageState }).__v3.received[label]!, label);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe("seed 004 in headless Chromium", () => {
  test("the connection example, the four targeting examples, a command and a heartbeat reach exactly the documented clients", async () => {
    const apiKey = issueApiKey("seed-004-browser");
    const jwtAdmin = server.token("ada", "admin");
    const jwtOperator = server.token("olga", "operator");
    const jwtViewer = server.token("bea", "viewer");
    const A = await openPage();
    const B = await openPage();

    // c1: the seed's example as written (group "event_abc123", client id Date.now()), signed in as an admin.
    // c2: same group, another page-side socket, an operator. c3: another page, another group, a viewer, a UUID id.
    const G1 = "event_abc123";
    const G2 = "event_xyz789";
    const c1 = await connect(A.page, "c1", seed004ConnectJs(), apiKey, jwtAdmin);
    expect(c1).toMatch(/^\d{13}$/);
    await waitPresence(A.page, "c1", "snapshot");
    const c2 = await connect(A.page, "c2", seed004ConnectJs({ client_id: `bob-${crypto.randomUUID().slice(0, 8)}` }), apiKey, jwtOperator);
    await waitPresence(A.page, "c2", "snapshot");
    await waitPresence(A.page, "c1", "join", c2);
    const c3 = await connect(B.page, "c3", seed004ConnectJs({ group_id: G2, client_id: crypto.randomUUID() }), apiKey, jwtViewer);
    await waitPresence(B.page, "c3", "snapshot");
    expect(A.console.filter((t) => t === "Connected to Aether WS V3")).toHaveLength(2);
    expect(B.console.filter((t) => t === "Connected to Aether WS V3")).toHaveLength(1);

    // Presence: a new connection's first message is its snapshot, addressed to itself.
    const snapshotOf = async (o: Opened, label: string, self: string, group: string) => {
      const first = (await received(o.page, label))[0]!;
      expect(first).toMatchObject({ version: "3", msg_type: "presence", target: "direct", to_id: self, group_id: group, payload: { event: "snapshot" } });
      return first.payload.clients as string[];
    };
    expect(await snapshotOf(A, "c2", c2, G1)).toContain(c1);
    expect(await snapshotOf(A, "c1", c1, G1)).not.toContain(c2);
    const c3Snapshot = await snapshotOf(B, "c3", c3, G2);
    expect(c3Snapshot).not.toContain(c1);
    expect(c3Snapshot).not.toContain(c2);
    // ... and over REST, with the same key and token.
    const rest = await fetch(`${server.http}/v3/group/${G1}/presence?api_key=${apiKey}&jwt=${jwtViewer}`);
    expect(rest.status).toBe(200);
    const presence = (await rest.json()) as { group_id: string; ttl_s: number; clients: { client_id: string; expires_at: string }[] };
    expect(presence.group_id).toBe(G1);
    expect(presence.clients.map((c) => c.client_id).sort()).toEqual([c1, c2].sort());
    // `expires_at` is ISO 8601, within the TTL from now.
    for (const c of presence.clients) {
      expect(c.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(new Date(c.expires_at).getTime()).toBeGreaterThan(Date.now());
      expect(new Date(c.expires_at).getTime()).toBeLessThanOrEqual(Date.now() + presence.ttl_s * 1000);
    }
    expect(presence.ttl_s).toBe(3600);

    // 4.A group, from c2: c1 and c2 (the sender included), not c3 (another group).
    await send(A.page, "c2", SEED_004_GROUP);
    await waitCount(A.page, "c1", 1);
    await waitCount(A.page, "c2", 1);
    // 4.B direct, from c3 (group G2) to c1 (group G1): c1 only, whatever its group.
    await send(B.page, "c3", SEED_004_DIRECT.replace("target_client_random_id", c1));
    await waitCount(A.page, "c1", 2);
    // ... to a client connected nowhere: not_found, to the sender.
    await send(B.page, "c3", SEED_004_DIRECT.replace("target_client_random_id", "nobody-here"));
    await waitCount(B.page, "c3", 1);
    // 4.C system broadcast: from the admin (c1) every client gets it; from a non-admin it is forbidden.
    await send(A.page, "c1", SEED_004_BROADCAST);
    await waitCount(A.page, "c1", 3);
    await waitCount(A.page, "c2", 2);
    await waitCount(B.page, "c3", 2);
    await send(A.page, "c2", SEED_004_BROADCAST);
    await waitCount(A.page, "c2", 3);
    await send(B.page, "c3", SEED_004_BROADCAST);
    await waitCount(B.page, "c3", 3);
    // 4.D echo, from c3: c3 only.
    await send(B.page, "c3", SEED_004_ECHO);
    await waitCount(B.page, "c3", 4);
    // 5: heartbeat from c2, echoed to c2 only; the command to c1's group.
    await send(A.page, "c2", SEED_004_HEARTBEAT);
    await waitCount(A.page, "c2", 4);
    await send(A.page, "c1", SEED_004_CMD);
    await waitCount(A.page, "c1", 4);
    await waitCount(A.page, "c2", 5);
    // The server-filled fields cannot be spoofed: c3 claims to be someone else in c1's group.
    await send(B.page, "c3", JSON.stringify({ version: "2", msg_type: "msg", target: "group", from_id: c1, group_id: G1, sent_at: "1999-01-01T00:00:00Z", msg: "spoofed?" }));
    await waitCount(B.page, "c3", 5);
    // A last echo from each client: everything sent before it has been delivered to it by then.
    for (const [o, label, n] of [[A, "c1", 5], [A, "c2", 6], [B, "c3", 6]] as const) {
      await send(o.page, label, JSON.stringify({ msg_type: "msg", target: "echo", msg: `barrier ${label}` }));
      await waitCount(o.page, label, n);
    }

    const error = (from: string, group: string, code: string) => ({ version: "3", msg_type: "msg", target: "echo", from_id: from, group_id: group, cmd: "ERROR", msg: expect.any(String), payload: { code } });
    const hello = { msg_type: "msg", target: "group", from_id: c2, group_id: G1, msg: "Hello team!" };
    const maintenance = { msg_type: "cmd", target: "broadcast", from_id: c1, group_id: G1, cmd: "MAINTENANCE_WARNING" };
    const reload = { msg_type: "cmd", target: "group", from_id: c1, group_id: G1, cmd: "RELOAD_UI", payload: { force: true } };
    const barrier = (from: string, group: string) => ({ msg_type: "msg", target: "echo", from_id: from, group_id: group, msg: `barrier ${from === c1 ? "c1" : from === c2 ? "c2" : "c3"}` });
    const expected: Record<string, [Opened, object[]]> = {
      c1: [A, [hello, { msg_type: "msg", target: "direct", from_id: c3, to_id: c1, group_id: G2, msg: "Private message just for you." }, maintenance, reload, barrier(c1, G1)]],
      c2: [A, [hello, maintenance, error(c2, G1, "forbidden"), { msg_type: "heartbeat", target: "echo", from_id: c2, group_id: G1 }, reload, barrier(c2, G1)]],
      c3: [
        B,
        [
          error(c3, G2, "not_found"),
          maintenance,
          error(c3, G2, "forbidden"),
          { msg_type: "msg", target: "echo", from_id: c3, group_id: G2, msg: "Ping!" },
          { msg_type: "msg", target: "group", from_id: c3, group_id: G2, msg: "spoofed?" },
          barrier(c3, G2),
        ],
      ],
    };
    const t0 = Date.now() - 60_000;
    for (const [label, [o, want]] of Object.entries(expected)) {
      const all = await received(o.page, label);
      // Every message, presence included, is a WS_Message_V3 with the server's version and a fresh ISO timestamp.
      for (const m of all) {
        const parsed = GroupMessage.safeParse(m);
        if (!parsed.success) throw new Error(`${label} got a message outside the schema: ${JSON.stringify(m)}: ${parsed.error.message}`);
        expect(m.version).toBe("3");
        expect(m.sent_at).toMatch(ISO);
        expect(Date.parse(m.sent_at)).toBeGreaterThan(t0);
        expect(Date.parse(m.sent_at)).toBeLessThanOrEqual(Date.now() + 1000);
      }
      // Exactly these messages, in this order: the right recipients and none of the wrong ones.
      expect({ label, got: all.filter((m) => m.msg_type !== "presence") }).toMatchObject({ label, got: want });
    }
    // Presence of one group never reaches another.
    for (const m of (await received(B.page, "c3")).filter((m) => m.msg_type === "presence")) {
      expect(m.group_id).toBe(G2);
      expect(JSON.stringify(m.payload)).not.toContain(c1);
      expect(JSON.stringify(m.payload)).not.toContain(c2);
    }

    // c2 leaves: its group hears it, the other group does not.
    await A.page.evaluate(() => (globalThis as unknown as { __v3: PageState }).__v3.sockets.c2!.close());
    await waitPresence(A.page, "c1", "leave", c2);
    const leave = (await received(A.page, "c1")).find((m) => m.msg_type === "presence" && m.payload?.event === "leave")!;
    expect(leave).toMatchObject({ version: "3", msg_type: "presence", target: "group", group_id: G1, payload: { event: "leave", client_id: c2 } });
    await send(B.page, "c3", SEED_004_ECHO);
    await waitCount(B.page, "c3", 7);
    expect((await received(B.page, "c3")).some((m) => m.msg_type === "presence" && m.payload?.client_id === c2)).toBe(false);

    expect(await A.page.evaluate(() => Object.keys((globalThis as unknown as { __v3: PageState }).__v3.closed))).toEqual(["c2"]);
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    await A.page.close();
    await B.page.close();
  }, 30_000);
});
