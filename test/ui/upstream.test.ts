// The appliance's web UI shows its link to the upstream hub: linked, lost while the hub is down, linked again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

let browser: Browser;
let hub: TestServer;
let appliance: TestServer;

beforeAll(async () => {
  [browser, hub] = await Promise.all([launchChromium(), startServer({ args: ["--role", "hub"] })]);
  const token = hub.token("appliance", "skynode", ["sim-1"]);
  appliance = await startServer({ config: `${FAST_SIM}\n[upstream]\nurl = "${hub.ws}"\ntoken = "${token}"\nmax_backoff_s = 0.5\n` });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await Promise.all([appliance?.stop(), hub?.stop()]);
});

test("the dashboard's hub badge follows the upstream link, and a hub user's lease shows under its upstream name", async () => {
  const admin = appliance.token("root", "admin");
  const made = await fetch(`${appliance.http}/v1/users`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ name: "olga", role: "operator", password: "operator password" }) });
  expect(made.status).toBe(201);
  const ctx = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await ctx.newPage();
  await page.goto(appliance.http);
  await page.getByLabel("Name").fill("olga");
  await page.getByLabel("Password").fill("operator password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-test="upstream"]', { hasText: "hub: linked" }).waitFor({ timeout: 15_000 });

  const alice = await Operator.connect(hub, "alice");
  await alice.acquire();
  await page.locator('[data-test="lease"]', { hasText: "upstream/alice" }).waitFor({ timeout: 10_000 });
  alice.close();

  const port = hub.port;
  hub.proc.kill("SIGKILL");
  await hub.proc.exited;
  await page.locator('[data-test="upstream"]', { hasText: /hub: (disconnected|connecting)/ }).waitFor({ timeout: 10_000 });
  hub = await startServer({ dataDir: hub.dataDir, args: ["--role", "hub", "--port", String(port)] });
  await page.locator('[data-test="upstream"]', { hasText: "hub: linked" }).waitFor({ timeout: 15_000 });
  await ctx.close();
}, 90_000);
