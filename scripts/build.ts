// `bun run build`: single-file executables for the board (dist/skynode-linux-arm64) and for x64 (dist/skynode-linux-x64),
// each with the web UI, catalogs and migrations bundled, the worker scripts as extra entry points, the serial port's
// native addon for its own architecture embedded, and the version and git commit stamped in (`skynode --version`).
// `--target x64|arm64` builds one only.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BunPlugin } from "bun";
import pkg from "../package.json";

const ROOT = new URL("..", import.meta.url).pathname;
const PREBUILDS = join(ROOT, "node_modules/@serialport/bindings-cpp/prebuilds");

const TARGETS = {
  x64: { compile: "bun-linux-x64", addon: "linux-x64/@serialport+bindings-cpp.glibc.node" },
  arm64: { compile: "bun-linux-arm64", addon: "linux-arm64/@serialport+bindings-cpp.armv8.glibc.node" },
} as const;
type Arch = keyof typeof TARGETS;

/** @serialport/bindings-cpp finds its addon at run time with node-gyp-build, which searches the package's directory
 * on disk: a compiled binary would look for the build machine's node_modules. This replaces that lookup with a
 * static require of the target's prebuilt addon, which `bun build --compile` embeds (and loads from memory). */
function serialAddon(arch: Arch): BunPlugin {
  const addon = join(PREBUILDS, TARGETS[arch].addon);
  return {
    name: "serialport-addon",
    setup(build) {
      build.onLoad({ filter: /@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/ }, () => ({
        contents: `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.binding = require(${JSON.stringify(addon)});\n`,
        loader: "js",
      }));
    },
  };
}

async function commit(): Promise<string> {
  const head = (await Bun.$`git rev-parse --short=12 HEAD`.cwd(ROOT).quiet().nothrow().text()).trim();
  if (!head) return "unknown";
  const dirty = (await Bun.$`git status --porcelain --untracked-files=no`.cwd(ROOT).quiet().nothrow().text()).trim();
  return dirty ? `${head}-dirty` : head;
}

export async function build(arch: Arch, outDir = join(ROOT, "dist")): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `skynode-linux-${arch}`);
  const stamp = { version: pkg.version, commit: await commit(), target: `linux-${arch}` };
  const result = await Bun.build({
    entrypoints: [join(ROOT, "app/main.ts"), join(ROOT, "hal/gpio/event-reader.worker.ts"), join(ROOT, "hal/sim/star-field.worker.ts")],
    compile: { target: TARGETS[arch].compile, outfile },
    define: { SKYNODE_BUILD: JSON.stringify(stamp) },
    plugins: [serialAddon(arch)],
    minify: { syntax: true, whitespace: true },
    sourcemap: "none",
  });
  if (!result.success) throw new Error(`build for ${arch} failed:\n${result.logs.join("\n")}`);
  return outfile;
}

if (import.meta.main) {
  const only = process.argv.includes("--target") ? process.argv[process.argv.indexOf("--target") + 1] : undefined;
  if (only !== undefined && !(only in TARGETS)) throw new Error(`--target must be one of ${Object.keys(TARGETS).join(", ")}`);
  for (const arch of (only ? [only] : Object.keys(TARGETS)) as Arch[]) {
    const started = performance.now();
    const file = await build(arch);
    console.log(`${file}  ${(Bun.file(file).size / 1e6).toFixed(1)} MB  ${Math.round(performance.now() - started)} ms`);
  }
}
