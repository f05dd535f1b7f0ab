#!/usr/bin/env bun
// skynode CLI (DESIGN.md §2): `serve` runs the appliance or hub; `token issue` prints a signed token; `apikey`
// issues and manages machine API keys.
import { parseArgs } from "node:util";
import { issueToken, parseTtl, Role } from "./auth/principal";
import { loadSigningKey } from "./auth/signing-key";
import { ConfigError, loadConfig } from "./config/load";
import { UpstreamConfig } from "./config/schema";
import { ApiKeyStore, type ApiKeyInfo } from "./store/api-keys";
import { openDatabase } from "./store/database";

const USAGE = `usage:
  skynode --version
  skynode healthcheck [--config FILE] [--url URL] [--wait SECONDS]   (exit 0 once /healthz answers ok)
  skynode config check FILE     (validates a config file; each error names its key and says why)
  skynode serve [--host H] [--port P] [--data DIR] [--config FILE] [--role appliance|hub] [--upstream URL]
                (--upstream/SKYNODE_UPSTREAM_URL with SKYNODE_UPSTREAM_TOKEN: federate to a hub, as [upstream] does)
  skynode simulate [--mount PATH] [--focuser PATH] [--baud 115200] [--config FILE] [--trace]   (device simulators on ptys; needs socat)
  skynode token issue --sub NAME --role viewer|operator|owner|skynode|admin [--telescope UID]... [--ttl 30d|8h|never] [--data DIR]
                (lifetime 30 days unless --ttl says otherwise; --ttl never issues a token that never expires)
  skynode apikey issue --name NAME [--data DIR]      (prints a new machine API key; only its hash is kept)
  skynode apikey add --name NAME [--data DIR]        (installs the key read from stdin, e.g. on another hub instance)
  skynode apikey list [--data DIR]                   (one JSON object per key: id, name, created_at, revoked_at)
  skynode apikey revoke ID|NAME [--data DIR]`;

/** A token from `token issue` is not a session: nothing ends it but its expiry (or a new signing key). */
const DEFAULT_TOKEN_TTL = "30d";
const NEVER_EXPIRES_WARNING = [
  "WARNING: this token NEVER EXPIRES (--ttl never).",
  "WARNING: anyone who copies it keeps its access until the data dir's signing.key is replaced, which invalidates every token.",
  "WARNING: prefer a lifetime (--ttl 30d) and issue a new token when it runs out.",
].join("\n");

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const env = process.env;
  if (command === "--version" || command === "version") {
    console.log((await import("./version")).versionLine());
    return;
  }
  if (command === "serve") {
    const { values } = parseArgs({
      args: rest,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        data: { type: "string" },
        config: { type: "string" },
        role: { type: "string" },
        upstream: { type: "string" },
      },
      strict: true,
    });
    const config = await loadConfig(values.config ?? env.SKYNODE_CONFIG);
    const upstreamUrl = values.upstream ?? env.SKYNODE_UPSTREAM_URL;
    if (upstreamUrl !== undefined) {
      // The token comes from the environment only: a command line is readable by every user of the machine (ps).
      const token = env.SKYNODE_UPSTREAM_TOKEN ?? config.upstream?.token;
      if (!token) fail("--upstream needs SKYNODE_UPSTREAM_TOKEN (a skynode token the hub issued for this telescope)");
      const parsed = UpstreamConfig.safeParse({ ...config.upstream, url: upstreamUrl, token });
      if (!parsed.success) fail(`--upstream: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      config.upstream = parsed.data;
    }
    const role = values.role ?? env.SKYNODE_ROLE ?? "appliance";
    if (role !== "appliance" && role !== "hub") fail(`--role must be appliance or hub, not ${role}`);
    const portText = values.port ?? env.SKYNODE_PORT;
    const port = portText === undefined ? config.server.port : Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, not ${portText}`);
    const { serve } = await import("./cli/serve");
    await serve({
      host: values.host ?? env.SKYNODE_HOST ?? config.server.host,
      port,
      dataDir: values.data ?? env.SKYNODE_DATA ?? "./data",
      role,
      config,
    });
    return;
  }
  if (command === "simulate") {
    const { values } = parseArgs({
      args: rest,
      options: { mount: { type: "string" }, focuser: { type: "string" }, baud: { type: "string" }, config: { type: "string" }, trace: { type: "boolean" } },
      strict: true,
    });
    const config = await loadConfig(values.config ?? env.SKYNODE_CONFIG);
    const { simulate } = await import("./cli/simulate");
    await simulate({
      mount: values.mount,
      focuser: values.focuser,
      baud: values.baud ? Number(values.baud) : 115200,
      slewRateDegS: config.mount.slew_rate_deg_s,
      accelDegS2: config.mount.accel_deg_s2,
      focuserStartStep: Math.round(config.focuser.sim_position_um / config.focuser.step_um),
      focuserStepsPerS: config.focuser.speed_um_s / config.focuser.step_um,
      trace: values.trace ?? false,
    });
    return;
  }
  if (command === "healthcheck") {
    // For the service's health timer and the installer's upgrade check: exit 0 once /healthz answers ok.
    const { values } = parseArgs({ args: rest, options: { config: { type: "string" }, url: { type: "string" }, wait: { type: "string" } }, strict: true });
    const config = await loadConfig(values.config ?? env.SKYNODE_CONFIG);
    const host = config.server.host === "0.0.0.0" || config.server.host === "::" ? "127.0.0.1" : config.server.host;
    const url = values.url ?? `http://${host.includes(":") ? `[${host}]` : host}:${config.server.port}/healthz`;
    const deadline = Date.now() + Number(values.wait ?? 0) * 1000;
    let last = "";
    do {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
        const body = (await res.json().catch(() => null)) as { status?: string } | null;
        // Degraded (a hub without Redis) is alive: a restart would not bring Redis back.
        if (res.ok && (body?.status === "ok" || body?.status === "degraded")) return void console.log(`${url}: ${body.status}`);
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() < deadline) await Bun.sleep(500);
    } while (Date.now() < deadline);
    fail(`${url}: not healthy (${last})`);
  }
  if (command === "config" && rest[0] === "check") {
    const path = rest[1];
    if (!path || rest.length > 2) fail("usage: skynode config check FILE");
    // A ConfigError (the main catch) names each bad key and why; exit 2.
    const c = await loadConfig(path);
    const device = (d: { driver: string; port?: string }) => (d.port ? `${d.driver} on ${d.port}` : `${d.driver} (simulated)`);
    console.log(`${path}: ok`);
    console.log(`  telescope ${c.telescope.uid}; mount ${device(c.mount)}; focuser ${device(c.focuser)}; ${c.limits.length} limit switch(es)`);
    if (c.upstream) console.log(`  federated to ${c.upstream.url}`);
    if (c.backplane) console.log(`  hub backplane at ${c.backplane.redis_url}`);
    return;
  }
  if (command === "token" && rest[0] === "issue") {
    const { values } = parseArgs({
      args: rest.slice(1),
      options: {
        sub: { type: "string" },
        role: { type: "string" },
        telescope: { type: "string", multiple: true },
        ttl: { type: "string" },
        data: { type: "string" },
      },
      strict: true,
    });
    if (!values.sub) fail("token issue needs --sub NAME");
    const role = Role.safeParse(values.role);
    if (!role.success) fail(`token issue needs --role ${Role.options.join("|")}`);
    const ttlSec = values.ttl === "never" ? undefined : parseTtl(values.ttl ?? DEFAULT_TOKEN_TTL);
    const key = loadSigningKey(values.data ?? env.SKYNODE_DATA ?? "./data");
    const token = issueToken(key, { sub: values.sub, role: role.data, telescopes: values.telescope, ttlSec });
    if (ttlSec === undefined) {
      // On stderr, so `TOKEN=$(skynode token issue …)` still captures the token alone.
      console.error(NEVER_EXPIRES_WARNING);
    }
    console.log(token);
    return;
  }
  if (command === "apikey" && ["issue", "add", "list", "revoke"].includes(rest[0] ?? "")) {
    await apikey(rest[0]!, rest.slice(1));
    return;
  }
  fail(USAGE);
}

async function apikey(action: string, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: action === "issue" || action === "add" ? { name: { type: "string" }, data: { type: "string" } } : { data: { type: "string" } },
    allowPositionals: action === "revoke",
    strict: true,
  });
  const name = (values as { name?: string }).name;
  if ((action === "issue" || action === "add") && !name) fail(`apikey ${action} needs --name NAME`);
  if (action === "revoke" && positionals.length !== 1) fail("apikey revoke needs one ID or NAME");
  // Read before opening the store: a failure here leaves nothing half done.
  let key = "";
  if (action === "add") {
    const words = (await Bun.stdin.text()).split(/\s+/).filter(Boolean);
    if (words.length !== 1) fail("apikey add reads exactly one key from stdin");
    key = words[0]!;
  }
  const db = openDatabase((values.data as string | undefined) ?? process.env.SKYNODE_DATA ?? "./data");
  try {
    const keys = new ApiKeyStore(db);
    const line = (k: ApiKeyInfo) => JSON.stringify({ id: k.id, name: k.name, created_at: k.created_at, revoked_at: k.revoked_at });
    if (action === "issue") console.log(keys.issue(name!).key);
    else if (action === "add") console.log(line(keys.add(name!, key)));
    else if (action === "list") for (const k of keys.list()) console.log(line(k));
    else {
      const revoked = keys.revoke(positionals[0]!);
      if (!revoked) throw new Error(`no live API key has the id or name ${positionals[0]}`);
      console.log(line(revoked));
    }
  } finally {
    db.close();
  }
}

main(Bun.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) fail(err.message);
  fail(`skynode: ${(err as Error).message}`);
});
