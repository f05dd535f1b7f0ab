import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("../..", import.meta.url).pathname;

/** Debian's Chromium, headless, driven by playwright-core; without it the test fails with the install hint. The
 * flags keep it off the network this machine does not have (background networking, component updates, sync). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`browser tests need Debian's Chromium at ${CHROMIUM}: sudo apt-get install -y chromium (or run scripts/ensure-test-deps.sh as root)`);
  }
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

let clientBundle: string | null = null;

/** app/client bundled for the browser, exposing `SkynodeClient` on `window`. */
export async function browserClientBundle(): Promise<string> {
  if (clientBundle) return clientBundle;
  const out = await Bun.build({ entrypoints: [join(ROOT, "test/helpers/browser-client-entry.ts")], target: "browser", format: "esm", minify: false });
  if (!out.success) throw new Error(`bundling app/client failed: ${out.logs.join("\n")}`);
  clientBundle = await out.outputs[0]!.text();
  return clientBundle;
}
