// A real browser (headless Chromium): seed 001's reassembly snippet, run as written, and the typed client in
// binary mode fetch the latest image, from the appliance and through a hub, and get the stored bytes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { SkynodeClient } from "../../app/client";
import { browserClientBundle, launchChromium } from "../helpers/browser";
import { FAST_SIM } from "../helpers/operator";
import { SEED_001_SNIPPET_JS } from "../helpers/seed-001-snippet";
import { startServer, type TestServer } from "../helpers/server";
import { startSkyNodeProcess, type SkyNodeProcess } from "../helpers/skynode-process";

let browser: Browser;
let appliance: TestServer;
let hub: TestServer;
let sky: SkyNodeProcess;

beforeAll(async () => {
  [browser, appliance, hub] = await Promise.all([launchChromium(), startServer({ config: FAST_SIM }), startServer({ args: ["--role", "hub"] })]);
  sky = await startSkyNodeProcess(hub, "ext-b");
}, 60_000);
afterAll(async () => {
  await browser?.close();
  expect(await sky.stop()).toBe(0);
  expect(await appliance.stop()).toBe(0);
  expect(await hub.stop()).toBe(0);
});

const sha256 = async (bytes: Uint8Array<ArrayBuffer>) => Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex");

/** Takes a 1 s exposure through `server` with the typed client; returns the image id and the stored bytes as the
 * HTTP fast path serves them. */
async function exposeAndDownload(server: TestServer, uid: string): Promise<{ image_id: string; bytes: Uint8Array<ArrayBuffer> }> {
  const token = server.token("olga", "operator");
  const client = await SkynodeClient.connect({ url: server.http, token });
  const lease = await client.command(uid, { command_type: "manual_control_lease.acquire", duration_s: 600, purpose: "browser test" });
  expect(lease.status).toBe("ok");
  const shot = await client.command(uid, { command_type: "camera.exposure.start", duration_s: 1, binning: 1 });
  expect(shot.status).toBe("ok");
  await client.command(uid, { command_type: "manual_control_lease.release", lease_id: String(lease.data!.lease_id) });
  client.close();
  const image_id = String(shot.data!.image_id);
  if (server === hub) {
    // The hub has no files of its own: the reference copy is the SkyNode's, fetched with the Bun client.
    const c = await SkynodeClient.connect({ url: server.http, token });
    const r = await c.request(uid, "image.fetch", { image_id });
    c.close();
    return { image_id, bytes: r.bytes };
  }
  const res = await fetch(`${server.http}/v1/images/${image_id}.fits`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/fits");
  return { image_id, bytes: new Uint8Array(await res.arrayBuffer()) };
}

async function openPage(server: TestServer): Promise<Page> {
  const page = await browser.newPage();
  // An http://127.0.0.1 page is a secure context (crypto.subtle) on the server's own origin.
  await page.goto(`${server.http}/healthz`);
  return page;
}

async function viaSeedSnippet(page: Page, server: TestServer, uid: string) {
  return await page.evaluate(
    async ({ url, uid, snippet }) => {
      const socket = new WebSocket(url);
      await new Promise((r, j) => ((socket.onopen = r), (socket.onerror = j)));
      const myId = "browser-seed-1";
      const result = new Promise<{ size: number; sha: string; contentType: string }>((resolve, reject) => {
        const done = async (payload: Uint8Array<ArrayBuffer>, contentType: string) => {
          const digest = await crypto.subtle.digest("SHA-256", payload);
          resolve({ size: payload.length, contentType, sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("") });
        };
        const fail = (msg: unknown) => reject(new Error(JSON.stringify(msg)));
        new Function("socket", "myId", "done", "fail", snippet)(socket, myId, done, fail);
      });
      socket.send(JSON.stringify({ kind: "direct_request", request_id: myId, telescope_uid: uid, request_type: "image.fetch", payload: {} }));
      const r = await result;
      socket.close();
      return r;
    },
    { url: `${server.ws}/v1/ws/commands?token=${server.token("bea", "viewer")}`, uid, snippet: SEED_001_SNIPPET_JS },
  );
}

async function viaTypedClient(page: Page, server: TestServer, uid: string) {
  await page.addScriptTag({ type: "module", content: await browserClientBundle() });
  await page.waitForFunction(() => "SkynodeClient" in globalThis);
  return await page.evaluate(
    async ({ url, token, uid }) => {
      const { SkynodeClient } = globalThis as unknown as { SkynodeClient: typeof import("../../app/client").SkynodeClient };
      const client = await SkynodeClient.connect({ url, token });
      const r = await client.request(uid, "image.fetch", {}, { encoding: "binary" });
      client.close();
      const digest = await crypto.subtle.digest("SHA-256", r.bytes);
      return { size: r.bytes.length, contentType: r.content_type, sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""), image_id: r.metadata.image_id };
    },
    { url: server.http, token: server.token("bea", "viewer"), uid },
  );
}

describe("in headless Chromium", () => {
  for (const where of ["appliance", "hub"] as const) {
    test(`the latest image ${where === "hub" ? "through a hub from an external SkyNode" : "from the appliance"}: the seed's snippet (base64) and the typed client (binary) get the stored bytes`, async () => {
      const server = where === "hub" ? hub : appliance;
      const uid = where === "hub" ? sky.uid : "sim-1";
      const { image_id, bytes } = await exposeAndDownload(server, uid);
      expect(bytes.byteLength).toBeGreaterThan(1_000_000);
      const expected = { size: bytes.byteLength, sha: await sha256(bytes), contentType: "image/fits" };
      const page = await openPage(server);
      expect(await viaSeedSnippet(page, server, uid)).toEqual(expected);
      expect(await viaTypedClient(page, server, uid)).toEqual({ ...expected, image_id });
      await page.close();
    }, 60_000);
  }
});
