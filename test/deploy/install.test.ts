// deploy/install.sh against a scratch root (a directory standing in for `/`): users, layout, units and rules, then the
// service started and health-checked for real. systemd is stubbed only at the `systemctl` boundary: the stub records
// each call and, for `restart skynode.service`, runs what the unit's ExecStart runs (the current release's binary).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json";
import { build } from "../../scripts/build";
import { freePort } from "../helpers/redis";
import { removeDir, tempDir, track } from "../helpers/server";

const ROOT_DIR = new URL("../..", import.meta.url).pathname;
const scratch = tempDir("skynode-root-");
const work = tempDir("skynode-install-");
const stubLog = join(work, "systemctl.log");
const stubPid = join(work, "skynode.pid");
let binary: string;
let port: number;

/** The systemctl stub: records its arguments; `restart skynode.service` stops the running one (by pid) and starts the
 * current release as the unit would; `stop` stops it. */
const SYSTEMCTL = `#!/bin/sh
echo "$*" >> "${stubLog}"
stop() { if [ -f "${stubPid}" ]; then pid=$(cat "${stubPid}"); kill "$pid" 2>/dev/null; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; rm -f "${stubPid}"; fi; }
case "$1 $2" in
  "restart skynode.service")
    stop
    "$SKYNODE_ROOT/opt/skynode/current/skynode" serve --host 127.0.0.1 --config "$SKYNODE_ROOT/etc/skynode/config.toml" --data "$SKYNODE_ROOT/var/lib/skynode" > "${work}/service.log" 2>&1 &
    echo $! > "${stubPid}" ;;
  "stop skynode.service") stop ;;
esac
exit 0
`;

beforeAll(async () => {
  binary = await build("x64", join(work, "dist"));
  port = await freePort();
  // The scratch root's account files, as on a fresh Debian (dialout exists, gpio may not).
  mkdirSync(join(scratch, "etc"), { recursive: true });
  for (const f of ["passwd", "group", "shadow", "gshadow", "login.defs"]) {
    if (existsSync(`/etc/${f}`)) copyFileSync(`/etc/${f}`, join(scratch, "etc", f));
  }
  writeFileSync(join(scratch, "etc/group"), readFileSync(join(scratch, "etc/group"), "utf8").split("\n").filter((l) => !l.startsWith("gpio:") && !l.startsWith("skynode:")).join("\n"));
  writeFileSync(join(scratch, "etc/passwd"), readFileSync(join(scratch, "etc/passwd"), "utf8").split("\n").filter((l) => !l.startsWith("skynode:")).join("\n"));
  // The base system's own units and shell, which `systemd-analyze verify --root` resolves the service against.
  await Bun.$`mkdir -p ${join(scratch, "usr/lib/systemd")} ${join(scratch, "bin")} && cp -r /usr/lib/systemd/system ${join(scratch, "usr/lib/systemd/")} && cp /bin/sh ${join(scratch, "bin/sh")}`;
  // An existing config is kept: this one puts the service on a free port.
  mkdirSync(join(scratch, "etc/skynode"), { recursive: true });
  writeFileSync(join(scratch, "etc/skynode/config.toml"), `[server]\nport = ${port}\n`);
  mkdirSync(join(work, "bin"));
  writeFileSync(join(work, "bin/systemctl"), SYSTEMCTL);
  chmodSync(join(work, "bin/systemctl"), 0o755);
}, 60_000);

afterAll(async () => {
  if (existsSync(stubPid)) process.kill(Number(readFileSync(stubPid, "utf8")), "SIGTERM");
  removeDir(scratch);
  removeDir(work);
});

async function install(bin: string): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(["sh", join(ROOT_DIR, "deploy/install.sh"), bin], {
    env: { ...process.env, SKYNODE_ROOT: scratch, SKYNODE_HEALTH_WAIT: "20", PATH: `${join(work, "bin")}:${process.env.PATH}` },
    stdout: "pipe",
    stderr: "pipe",
  });
  track(proc);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** A stand-in release: its own --version, and otherwise the real binary (`healthy`) or a crash on start. */
function fakeRelease(version: string, commit: string, healthy: boolean): string {
  const path = join(work, `skynode-${version}`);
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = --version ]; then echo "skynode ${version} (${commit}, linux-x64)"; exit 0; fi\n${healthy ? `exec "${binary}" "$@"` : "echo 'segfault' >&2; exit 1"}\n`);
  chmodSync(path, 0o755);
  return path;
}

const current = () => readlinkSync(join(scratch, "opt/skynode/current"));
const healthz = async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).json();

describe("deploy/install.sh", () => {
  test("a fresh install: user and groups, layout, units, rules; the service runs and is healthy", async () => {
    const r = await install(binary);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const commit = /\(([0-9a-f]{12})/.exec((await Bun.$`${binary} --version`.text()))![1]!;
    const release = `releases/${pkg.version}-${commit}`;
    expect(current()).toBe(release);
    expect(statSync(join(scratch, "opt/skynode", release, "skynode")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(scratch, "usr/local/bin/skynode"))).toBe("/opt/skynode/current/skynode");
    expect(r.out).toContain(`skynode ${pkg.version} (${commit}) is installed and running: open http://`);
    expect(r.out).toMatch(/create the admin with the setup code [A-Z0-9]{5}-[A-Z0-9]{5}/);

    // The system user, in dialout and the gpio group the installer created.
    const passwd = readFileSync(join(scratch, "etc/passwd"), "utf8");
    const user = /^skynode:x:(\d+):(\d+):[^:]*:\/var\/lib\/skynode:\/usr\/sbin\/nologin$/m.exec(passwd);
    expect(user).not.toBeNull();
    const group = readFileSync(join(scratch, "etc/group"), "utf8");
    expect(group).toMatch(/^dialout:x:\d+:(.*,)?skynode(,.*)?$/m);
    expect(group).toMatch(/^gpio:x:\d+:(.*,)?skynode(,.*)?$/m);
    const data = statSync(join(scratch, "var/lib/skynode"));
    expect([data.uid, data.mode & 0o777]).toEqual([Number(user![1]), 0o700]);
    // The existing config was kept.
    expect(readFileSync(join(scratch, "etc/skynode/config.toml"), "utf8")).toBe(`[server]\nport = ${port}\n`);

    for (const f of ["skynode.service", "skynode-health.service", "skynode-health.timer"]) expect(existsSync(join(scratch, "etc/systemd/system", f))).toBe(true);
    expect(readFileSync(join(scratch, "etc/udev/rules.d/60-skynode.rules"), "utf8")).toContain('KERNEL=="gpiochip*", GROUP="gpio"');
    // systemd itself checks the units as installed (ExecStart resolves inside the scratch root).
    const verify = await Bun.$`systemd-analyze verify --root=${scratch} ${join(scratch, "etc/systemd/system/skynode.service")} ${join(scratch, "etc/systemd/system/skynode-health.service")} ${join(scratch, "etc/systemd/system/skynode-health.timer")}`.nothrow().quiet();
    expect(verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);

    expect(readFileSync(stubLog, "utf8").split("\n").filter(Boolean)).toEqual([
      "daemon-reload",
      "enable skynode.service skynode-health.timer",
      "restart skynode.service",
      "start skynode-health.timer",
    ]);
    expect(await healthz()).toMatchObject({ status: "ok", role: "appliance" });
  }, 60_000);

  test("an upgrade that fails its health check rolls back to the running release", async () => {
    const good = current();
    const r = await install(fakeRelease("0.9.0", "deadbeef0000", false));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`releases/0.9.0-deadbeef0000 is not healthy: rolling back to ${good}`);
    expect(current()).toBe(good);
    expect(await healthz()).toMatchObject({ status: "ok" });
  }, 60_000);

  test("a healthy upgrade keeps the previous release (and only that one)", async () => {
    const before = current();
    const r = await install(fakeRelease("0.9.1", "cafe00000000", true));
    expect(r.code).toBe(0);
    expect(current()).toBe("releases/0.9.1-cafe00000000");
    expect(readlinkSync(join(scratch, "opt/skynode/previous"))).toBe(before);
    expect(readdirSync(join(scratch, "opt/skynode/releases")).sort()).toEqual([before.slice("releases/".length), "0.9.1-cafe00000000"].sort());
    expect(lstatSync(join(scratch, "opt/skynode/current")).isSymbolicLink()).toBe(true);
    expect(await healthz()).toMatchObject({ status: "ok" });
  }, 60_000);
});
