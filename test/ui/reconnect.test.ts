// The web UI after its server restarts (a dropped connection): it shows that it is reconnecting, resubscribes by
// itself and catches up from the retained snapshots; night mode; signing out returns to the sign-in form.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { FAST_SIM } from "../helpers/operator";
import { startServer } from "../helpers/server";
import { ARTIFACTS, browserAndAppliance } from "../helpers/ui";

const ui = browserAndAppliance();

test("a restart of the server: the page says so, reconnects by itself and shows the telescope again; night mode; sign out", async () => {
  // An operator account, made through the admin API with a CLI-issued admin token.
  const admin = ui.server.token("root", "admin");
  const made = await fetch(`${ui.server.http}/v1/users`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ name: "olga", role: "operator", password: "operator password" }) });
  expect(made.status).toBe(201);
  const ctx = await ui.browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await ctx.newPage();
  await page.goto(ui.server.http);
  await page.getByLabel("Name").fill("olga");
  await page.getByLabel("Password").fill("operator password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-test="link"]', { hasText: "live" }).waitFor();
  await page.locator('[data-test="mount-state"]', { hasText: /idle|tracking/ }).waitFor();

  // The same server (port, data dir, signing key) stops and comes back.
  expect(await ui.server.stop()).toBe(0);
  await page.locator('[data-test="link"]', { hasText: "reconnecting" }).waitFor({ timeout: 10_000 });
  // Nothing stale is shown as if it were live.
  await page.locator('[data-test="mount-state"]', { hasText: "—" }).waitFor();
  ui.server = await startServer({ config: FAST_SIM, dataDir: ui.server.dataDir, args: ["--port", String(ui.server.port)] });
  await page.locator('[data-test="link"]', { hasText: "live" }).waitFor({ timeout: 20_000 });
  // Caught up: the telescope's state shows again once its SkyNode is back, and commands work on the new connection.
  await page.locator('[data-test="mount-state"]', { hasText: /idle|tracking/ }).waitFor({ timeout: 20_000 });
  await page.getByRole("button", { name: "Acquire lease" }).click();
  await page.locator('[data-test="lease"]', { hasText: "olga" }).waitFor({ timeout: 10_000 });

  await page.getByRole("button", { name: "Night" }).click();
  // The class is applied by an effect after the render: wait for it rather than read it at once.
  await page.waitForFunction(() => (globalThis as any).document.body.classList.contains("night"), null, { timeout: 5000 });
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-night.png") });
  await page.getByRole("button", { name: "Normal" }).click();

  await page.getByRole("button", { name: "Release" }).click();
  await page.locator('[data-test="lease"]', { hasText: "No manual-control lease" }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  // The cookie is gone: the API no longer knows this browser.
  expect(await page.evaluate(async () => (await fetch("/v1/auth/me")).status)).toBe(401);
  await ctx.close();
}, 90_000);
