// The web UI in a real browser (headless Chromium): first-boot setup, sign-in, the lease, tracking M31, a 1 s
// exposure drawn on the canvas, release; a viewer in a second context sees the same state live and cannot command.
// Screenshots (desktop and phone) go to test/artifacts/ for review.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ARTIFACTS, browserAndAppliance } from "../helpers/ui";

const ui = browserAndAppliance();

async function signIn(page: Page, name: string, password: string) {
  await page.goto(ui.server.http);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-test="link"]', { hasText: "live" }).waitFor();
}

describe("the web UI", () => {
  test("setup, accounts, sign in, lease, track M31, expose 1 s and see it drawn, autofocus plot, tasks, release; a viewer watches and cannot command", async () => {
    const ctx = await ui.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(ui.server.http);
    // First boot: the setup code from the data dir.
    const code = readFileSync(join(ui.server.dataDir, "setup-code"), "utf8").trim();
    await page.getByLabel("Setup code").fill(code);
    await page.getByLabel("Name").fill("ada");
    await page.getByLabel("Password").fill("correct horse");
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await page.locator('[data-test="link"]', { hasText: "live" }).waitFor();

    // A viewer account, made on the admin's accounts panel.
    await page.getByLabel("new account name").fill("vic");
    await page.getByLabel("new account role").selectOption("viewer");
    await page.getByLabel("new account password").fill("viewer password");
    await page.getByRole("button", { name: "Add account" }).click();
    await page.locator('[data-test="users"]', { hasText: "vic" }).waitFor();
    const viewerCtx = await ui.browser.newContext({ viewport: { width: 390, height: 844 } });
    const viewer = await viewerCtx.newPage();
    await signIn(viewer, "vic", "viewer password");
    await expect(viewer.getByRole("button", { name: "Track" }).isDisabled()).resolves.toBe(true);
    await viewer.getByText("viewers cannot command").first().waitFor();

    await page.getByRole("button", { name: "Acquire lease" }).click();
    await page.locator('[data-test="lease"]', { hasText: "ada (web UI)" }).waitFor();
    await viewer.locator('[data-test="lease"]', { hasText: "ada" }).waitFor();

    // Search as you type: the catalog offers M31 for "M3".
    const targetInput = page.getByPlaceholder("M31, Vega, Mars or RA,Dec°");
    await targetInput.pressSequentially("M3");
    await page.locator('#targets option[value="M31"]').waitFor({ state: "attached" });
    await targetInput.fill("M31");
    await page.getByRole("button", { name: "Track" }).click();
    await page.locator('[data-test="mount-state"]', { hasText: "tracking" }).waitFor({ timeout: 20_000 });
    await viewer.locator('[data-test="mount-state"]', { hasText: "tracking" }).waitFor({ timeout: 20_000 });

    await page.getByLabel("exposure seconds").fill("1");
    await page.getByRole("button", { name: "Expose" }).click();
    await page.locator('[data-test="message"]', { hasText: "expose: done" }).waitFor({ timeout: 20_000 });
    // The image is fetched by binary direct transfer, decoded and stretched in the page: its pixels vary.
    // (Page functions run in the browser; this project's typecheck has no DOM library, hence `any`.)
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-test="image"]').width > 1, null, { timeout: 20_000 });
    const spread = await page.evaluate(() => {
      const c = (globalThis as any).document.querySelector('[data-test="image"]');
      const d: Uint8ClampedArray = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i]!);
      return { width: c.width, height: c.height, levels: seen.size };
    });
    expect(spread.width).toBe(1024);
    expect(spread.height).toBe(768);
    expect(spread.levels).toBeGreaterThan(20);
    await page.locator('[data-test="histogram"]').waitFor();
    // The viewer, showing "latest", gets the new image as it is taken.
    await viewer.waitForFunction(() => (globalThis as any).document.querySelector('[data-test="image"]').width === 1024, null, { timeout: 20_000 });

    // Autofocus: the V-curve fills while it runs, then the result is shown.
    await page.getByRole("button", { name: "Autofocus" }).click();
    await page.waitForFunction(() => Number((globalThis as any).document.querySelector('[data-test="vcurve"]').dataset.points) >= 3, null, { timeout: 30_000 });
    await page.locator('[data-test="autofocus-result"]', { hasText: "best focus" }).waitFor({ timeout: 60_000 });
    const points = Number(await page.locator('[data-test="vcurve"]').getAttribute("data-points"));
    expect(points).toBeGreaterThanOrEqual(9);
    await viewer.waitForFunction((n) => Number((globalThis as any).document.querySelector('[data-test="vcurve"]').dataset.points) >= n, points);

    // The task queue: add one (it waits: the lease is held), see it, remove it.
    await page.getByLabel("task target").fill("M42");
    await page.getByRole("button", { name: "Add task" }).click();
    await page.locator('[data-test="tasks"]', { hasText: "M42" }).waitFor();
    await page.locator('[data-test="tasks"] li', { hasText: "M42" }).getByRole("button", { name: "Remove" }).click();
    await page.locator('[data-test="tasks"] li', { hasText: "M42" }).waitFor({ state: "detached" });

    await page.screenshot({ path: join(ARTIFACTS, "dashboard-desktop.png"), fullPage: true });
    await viewer.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });

    // Anything running can be cancelled: a long exposure stops, reported as canceled.
    await page.getByLabel("exposure seconds").fill("60");
    await page.getByRole("button", { name: "Expose" }).click();
    await page.locator('[data-test="cancel"]').click();
    await page.locator('[data-test="message"]', { hasText: "expose: canceled" }).waitFor({ timeout: 20_000 });

    await page.getByRole("button", { name: "Release" }).click();
    await page.locator('[data-test="lease"]', { hasText: "No manual-control lease" }).waitFor();
    await viewer.locator('[data-test="lease"]', { hasText: "No manual-control lease" }).waitFor();

    // An admin changes vic's role on the accounts panel: vic's session ends, and the page goes back to sign-in.
    await page.getByLabel("role of vic").selectOption("operator");
    await page.waitForFunction(async () => ((await (await fetch("/v1/users")).json()) as any).users.find((u: any) => u.name === "vic").role === "operator");
    await viewer.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await ctx.close();
    await viewerCtx.close();
  }, 150_000);
});
