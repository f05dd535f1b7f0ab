import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync } from "node:fs";
import type { Browser } from "playwright-core";
import { launchChromium } from "./browser";
import { FAST_SIM } from "./operator";
import { startServer, type TestServer } from "./server";

/** Where the UI tests write their screenshots for review (git-ignored). */
export const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname;

/** Headless Chromium and a FAST_SIM appliance for a UI test file, started before its tests and stopped after
 * (the server must exit 0). A test may replace `server` (a restart); the one held at the end is stopped. */
export function browserAndAppliance(): { browser: Browser; server: TestServer } {
  const held = {} as { browser: Browser; server: TestServer };
  beforeAll(async () => {
    [held.browser, held.server] = await Promise.all([launchChromium(), startServer({ config: FAST_SIM })]);
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await held.browser?.close();
    expect(await held.server.stop()).toBe(0);
  });
  return held;
}
