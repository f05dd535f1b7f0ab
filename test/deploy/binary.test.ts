// The firmware binaries (scripts/build.ts): built for linux-x64 and linux-arm64, each smoke-tested as a board would run
// it; the arm64 one under qemu-user emulation (Debian's qemu-user-static with libc6-arm64-cross).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json";
import { build } from "../../scripts/build";
import { removeDir, startServer, tempDir, track, type TestServer } from "../helpers/server";
import { TestClient } from "../helpers/ws-client";

const QEMU = "/usr/bin/qemu-aarch64-static";
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
const QEMU_HINT = "sudo apt-get install -y qemu-user-static libc6-arm64-cross";
const ROOT = new URL("../..", import.meta.url).pathname;

const outDir = tempDir("skynode-dist-");
let x64: string;
let arm64: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  [x64, arm64] = await Promise.all([build("x64", outDir), build("arm64", outDir)]);
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  removeDir(outDir);
});

function arm64Exec(): string[] {
  if (!existsSync(QEMU) || !existsSync(join(ARM64_SYSROOT, "lib/ld-linux-aarch64.so.1"))) {
    throw new Error(`the arm64 smoke test runs the binary under qemu-user: ${QEMU_HINT} (or scripts/ensure-test-deps.sh as root)`);
  }
  return [QEMU, "-L", ARM64_SYSROOT, arm64];
}

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd: tempDir() });
  track(proc);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** `--version`, then `serve` on a free port: /healthz answers, and a WebSocket `ping` on the stream endpoint gets its
 * `pong` (with a token the binary issued itself). */
async function smoke(exec: string[], target: string): Promise<void> {
  const version = await run([...exec, "--version"]);
  expect(version.code).toBe(0);
  expect(version.out.trim()).toMatch(new RegExp(`^skynode ${pkg.version.replace(/\./g, "\\.")} \\([0-9a-f]{12}(-dirty)?, ${target}\\)$`));

  const server = await startServer({ exec });
  servers.push(server);
  const health = await fetch(`${server.http}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", role: "appliance", telescope_uid: "sim-1" });
  const token = await run([...exec, "token", "issue", "--sub", "smoke", "--role", "viewer", "--data", server.dataDir]);
  expect(token.code).toBe(0);
  const ws = await TestClient.connect(`${server.ws}/v1/ws/stream?token=${token.out.trim()}`);
  expect(await ws.request({ id: "p1", kind: "ping" })).toEqual({ kind: "pong", id: "p1" });
  ws.close();
  // The web UI is in the binary.
  expect(await (await fetch(`${server.http}/`)).text()).toContain("<!doctype html>");
  expect(await server.stop()).toBe(0);
  servers.splice(servers.indexOf(server), 1);
}

describe("firmware binaries", () => {
  test("x64: --version, serve, /healthz and a WebSocket ping", async () => {
    await smoke([x64], "linux-x64");
  }, 60_000);

  test("x64 in hub role: a SkyNode's snapshot reaches a subscribed viewer, and the commands endpoint answers ping", async () => {
    const hub = await startServer({ exec: [x64], args: ["--role", "hub"] });
    servers.push(hub);
    expect(await (await fetch(`${hub.http}/healthz`)).json()).toMatchObject({ status: "ok", role: "hub" });
    const viewer = await TestClient.connect(`${hub.ws}/v1/ws/stream?token=${hub.token("vic", "viewer")}`);
    expect(await viewer.request({ id: "s", kind: "subscribe_stream", subscription_id: "s", streams: ["telescope_snapshot"], filter: { telescope_uid: "probe-1" } })).toMatchObject({ kind: "ack" });
    const node = await TestClient.connect(`${hub.ws}/v1/ws/stream?token=${hub.token("probe-node", "skynode", ["probe-1"])}`);
    expect(await node.request({ id: "p", kind: "publish_telescope_snapshot", telescope_uid: "probe-1", snapshot: { name: "probe", safe: true } })).toMatchObject({ kind: "ack" });
    expect(await viewer.next((f) => f.kind === "event_telescope_snapshot")).toMatchObject({ subscription_id: "s", telescope_uid: "probe-1", snapshot: { name: "probe" } });
    const commands = await TestClient.connect(`${hub.ws}/v1/ws/commands?token=${hub.token("vic", "viewer")}`);
    expect(await commands.request({ id: "c", kind: "ping" })).toEqual({ kind: "pong", id: "c" });
    for (const c of [viewer, node, commands]) c.close();
    expect(await hub.stop()).toBe(0);
    servers.splice(servers.indexOf(hub), 1);
  }, 60_000);

  test("arm64 under qemu-user: --version, serve, /healthz and a WebSocket ping", async () => {
    await smoke(arm64Exec(), "linux-arm64");
  }, 120_000);

  test("x64: the serial addon is embedded: the drivers reach simulated devices over ptys with the build tree's addon hidden", async () => {
    // A private mount namespace hides node_modules' prebuilt addons from the binary only (other tests keep them).
    const hidden = join(ROOT, "node_modules/@serialport/bindings-cpp/prebuilds");
    const empty = tempDir("skynode-empty-");
    const dir = tempDir("skynode-pty-");
    const mount = join(dir, "mount");
    const focuser = join(dir, "focuser");
    const sim = Bun.spawn([x64, "simulate", "--mount", mount, "--focuser", focuser], { stdout: "pipe", stderr: "pipe" });
    track(sim);
    try {
      for (const deadline = Date.now() + 10_000; !(existsSync(mount) && existsSync(focuser)); ) {
        if (Date.now() > deadline) throw new Error("the simulators did not create their ptys");
        await Bun.sleep(50);
      }
      const config = `limits = []\n[mount]\ndriver = "synta"\nport = "${mount}"\nbaud = 115200\n[focuser]\ndriver = "moonlite"\nport = "${focuser}"\nbaud = 9600\n`;
      const unshare = Bun.which("unshare");
      if (!unshare) throw new Error("this test needs unshare (util-linux) and root, to hide the addon in a mount namespace");
      const server = await startServer({
        config,
        exec: [unshare, "--mount", "--propagation", "private", "sh", "-c", `mount --bind "$0" "$1" && shift && exec "$@"`, empty, hidden, x64],
      });
      servers.push(server);
      const token = server.token("smoke", "viewer");
      const ws = await TestClient.connect(`${server.ws}/v1/ws/stream?token=${token}`);
      ws.send({ kind: "subscribe_stream", subscription_id: "d", streams: ["device_snapshot"], filter: { device_uid: ["mount", "focuser"] } });
      // Both serial devices report connected: their ports were opened through the embedded addon.
      for (const device of ["mount", "focuser"]) {
        await ws.next((f) => f.kind === "event_device_snapshot" && f.device_uid === device && f.snapshot.connected === true, 15_000);
      }
      ws.close();
      expect(server.logs()).not.toContain("No native build was found");
    } finally {
      sim.kill("SIGTERM");
      await sim.exited;
      rmSync(dir, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);
});

