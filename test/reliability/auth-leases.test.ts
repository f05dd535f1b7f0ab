// Hardening, item 5: sign-in guessing cannot outrun its lock, a lease is granted to one user at a time and lives no
// longer than max_lease_s, a signed-out session stays signed out, a garbled cookie is a 401, and numbers that would
// reach a device or a loop are bounded. All through the real server, REST and WebSocket endpoints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";
import { freshDirs } from "../helpers/temp-dirs";
import { upgradeRefusal } from "../helpers/upgrade";
import { TestClient, type Frame } from "../helpers/ws-client";
import { cookieOf, sessionRequests } from "../helpers/sessions";

const ROOT = new URL("../..", import.meta.url).pathname;
const MAX_LEASE_S = 30;
const CONFIG = `${FAST_SIM}\n[telescope]\nmax_lease_s = ${MAX_LEASE_S}\n`;
const dirs = freshDirs();

let server: TestServer;
let admin: string;
let operatorToken: string;

beforeAll(async () => {
  server = await startServer({ config: CONFIG, dataDir: dirs() });
  operatorToken = server.token("carol", "operator");
  const code = readFileSync(join(server.dataDir, "setup-code"), "utf8").trim();
  const setup = await post("/v1/auth/setup", { setup_code: code, name: "ada", password: "correct horse" });
  expect(setup.status).toBe(201);
  admin = cookieOf(setup);
  for (const name of ["gus", "sam"]) {
    expect((await post("/v1/users", { name, role: "operator", password: `${name} password` }, as(admin))).status).toBe(201);
  }
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const { post, as } = sessionRequests(() => server);
const get = (path: string, headers: Record<string, string>) => fetch(`${server.http}${path}`, { headers });
const rest = (path: string, init: RequestInit = {}) =>
  fetch(`${server.http}${path}`, { ...init, headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" } });

describe("sign-in lockout under a parallel burst", () => {
  test("40 parallel wrong passwords: exactly 5 are told 'wrong', the other 35 are 429; then the right password is 429 too", async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post("/v1/auth/login", { name: "gus", password: `guess number ${i}` })));
    const statuses = answers.map((r) => r.status);
    // The rule (app/auth/attempt-limiter.ts): five places per name, taken before the hash is awaited; five
    // failures lock the name. Nothing else is answered.
    expect(statuses.filter((s) => s === 401).length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(35);
    for (const r of answers) await r.body?.cancel();
    const right = await post("/v1/auth/login", { name: "gus", password: "gus password" });
    expect(right.status).toBe(429);
    expect(((await right.json()) as any).error.message).toMatch(/try again in \d+ s/);
    // Another name is not locked with it.
    expect((await post("/v1/auth/login", { name: "sam", password: "sam password" })).status).toBe(200);
  });
});

describe("sign-out ends the session on the server", () => {
  test("after logout the same cookie is refused on REST and at a WebSocket upgrade; the account's other sessions go on", async () => {
    const session = cookieOf(await post("/v1/auth/login", { name: "sam", password: "sam password" }));
    const other = cookieOf(await post("/v1/auth/login", { name: "sam", password: "sam password" }));
    expect((await get("/v1/auth/me", as(session))).status).toBe(200);
    const ws = await TestClient.connect(`${server.ws}/v1/ws/stream`, { headers: as(session) });
    expect(await ws.request({ kind: "ping", id: "p" })).toEqual({ kind: "pong", id: "p" });
    const otherWs = await TestClient.connect(`${server.ws}/v1/ws/stream`, { headers: as(other) });

    const out = await post("/v1/auth/logout", {}, as(session));
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    // Its open socket is closed with the reason; the other session's socket stays.
    expect(await ws.waitClosed()).toMatchObject({ code: 4003, reason: expect.stringContaining("signed out") });
    expect(await otherWs.request({ kind: "ping", id: "q" })).toEqual({ kind: "pong", id: "q" });
    otherWs.close();

    const me = await get("/v1/auth/me", as(session));
    expect(me.status).toBe(401);
    expect(((await me.json()) as any).error.message).toContain("signed out");
    expect((await get("/v1/tasks", as(session))).status).toBe(401);
    expect((await get("/v1/catalog?q=M3", as(session))).status).toBe(401);
    expect((await upgradeRefusal(`${server.http}/v1/ws/stream`, as(session))).status).toBe(401);
    expect((await upgradeRefusal(`${server.http}/v1/ws/commands`, as(session))).status).toBe(401);
    expect((await upgradeRefusal(`${server.http}/wss`, as(session))).status).toBe(401);
    // The same token as a Bearer header is the same session.
    expect((await get("/v1/auth/me", { authorization: `Bearer ${session}` })).status).toBe(401);

    expect((await get("/v1/auth/me", as(other))).status).toBe(200);
    // Signing out twice, or with no session at all, is harmless.
    expect((await post("/v1/auth/logout", {}, as(session))).status).toBe(204);
    expect((await post("/v1/auth/logout", {})).status).toBe(204);
  });
});

describe("a malformed session cookie", () => {
  const bad = { cookie: "skynet_session=%E0%A4%A" };
  test("is 401 on REST routes, never 500", async () => {
    const headers = { cookie: bad.cookie, origin: server.http };
    for (const path of ["/v1/auth/me", "/v1/tasks", "/v1/catalog?q=M3", "/v1/users", "/v1/images/latest.fits", "/v1/sim/inputs"]) {
      const res = await get(path, headers);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(((await res.json()) as any).error.message).toContain("malformed");
    }
    // Without an Origin (a plain read) too.
    expect((await get("/v1/auth/me", { cookie: bad.cookie })).status).toBe(401);
    expect((await post("/v1/tasks", {}, headers)).status).toBe(401);
    expect((await post("/v1/auth/logout", {}, headers)).status).toBe(204);
  });

  test("is a 401 refusal at every WebSocket upgrade", async () => {
    for (const path of ["/v1/ws/stream", "/v1/ws/commands", "/wss"]) {
      const refusal = await upgradeRefusal(`${server.http}${path}`, { cookie: bad.cookie, origin: server.http });
      expect({ path, status: refusal.status }).toEqual({ path, status: 401 });
      expect(refusal.body).toContain("malformed");
    }
  });
});

describe("token issue lifetimes", () => {
  const cli = (args: string[], dataDir: string) => {
    const p = Bun.spawnSync([process.execPath, "app/main.ts", "token", "issue", ...args, "--data", dataDir], { cwd: ROOT });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  };
  const claims = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { iat: number; exp?: number };

  test("without --ttl a token lives 30 days; --ttl never prints a loud warning on stderr and the token alone on stdout", () => {
    const dataDir = dirs();
    const plain = cli(["--sub", "alice", "--role", "viewer"], dataDir);
    expect(plain.code).toBe(0);
    expect(plain.err).toBe("");
    const c = claims(plain.out.trim());
    expect(c.exp! - c.iat).toBe(30 * 86400);
    expect(Math.abs(c.iat - Date.now() / 1000)).toBeLessThan(60);

    const never = cli(["--sub", "robot", "--role", "viewer", "--ttl", "never"], dataDir);
    expect(never.code).toBe(0);
    expect(never.out.trim().split("\n")).toHaveLength(1);
    expect(claims(never.out.trim()).exp).toBeUndefined();
    expect(never.err).toContain("NEVER EXPIRES");

    expect(claims(cli(["--sub", "a", "--role", "viewer", "--ttl", "8h"], dataDir).out.trim())).toMatchObject({ exp: expect.any(Number) });
    // A zero lifetime is not a way around the default.
    expect(cli(["--sub", "a", "--role", "viewer", "--ttl", "0"], dataDir)).toMatchObject({ code: 2, out: "", err: expect.stringContaining("at least 1 s") });
  });
});

describe("schema bounds through /v1/ws/commands", () => {
  let op: Operator;
  beforeAll(async () => {
    op = await Operator.connect(server, "vera");
  });
  afterAll(() => op.close());

  const track = (offset_pattern: Record<string, unknown>) => ({ command_type: "mount.track", target: { type: "named", name: "M31" }, offset_pattern });
  const raster = (r: Record<string, unknown>) => track({ type: "raster", width_arcsec: 600, height_arcsec: 600, step_arcsec: 60, dwell_s: 1, ...r });
  const daisy = (d: Record<string, unknown>) => track({ type: "daisy", radius_arcsec: 300, petals: 5, period_s: 60, ...d });
  const expectInvalid = (answer: Frame, path: string[]) => {
    expect(answer).toMatchObject({ kind: "error", code: "invalid" });
    expect(answer.details.issues.map((i: { path: unknown[] }) => i.path.join("."))).toContain(["command", ...path].join("."));
  };

  test.each([
    ["a raster step of 1e-300 arcsec", raster({ step_arcsec: 1e-300 }), ["offset_pattern", "step_arcsec"]],
    ["a raster of 36000\" x 36000\" in 1\" steps (1.3e9 points)", raster({ width_arcsec: 36000, height_arcsec: 36000, step_arcsec: 1 }), ["offset_pattern", "step_arcsec"]],
    ["a raster one point over 10,000 (101 x 100)", raster({ width_arcsec: 100, height_arcsec: 99, step_arcsec: 1 }), ["offset_pattern", "step_arcsec"]],
    ["a raster dwell of 1e-9 s", raster({ dwell_s: 1e-9 }), ["offset_pattern", "dwell_s"]],
    ["a daisy period of 0.01 s", daisy({ period_s: 0.01 }), ["offset_pattern", "period_s"]],
    ["a daisy radius of 5e-324 arcsec", daisy({ radius_arcsec: 5e-324 }), ["offset_pattern", "radius_arcsec"]],
    ["a daisy with 1000 petals", daisy({ petals: 1000 }), ["offset_pattern", "petals"]],
    ["a lease of half a second", { command_type: "manual_control_lease.acquire", duration_s: 0.5 }, ["duration_s"]],
    ["a renewal of 1e-300 s", { command_type: "manual_control_lease.renew", lease_id: "lease-x", duration_s: 1e-300 }, ["duration_s"]],
    ["an exposure of -0.001 s", { command_type: "camera.exposure.start", duration_s: -0.001, binning: 1 }, ["duration_s"]],
    ["a binning of 1.5", { command_type: "camera.exposure.start", duration_s: 1, binning: 1.5 }, ["binning"]],
    ["a focuser position of 1e300 µm", { command_type: "focuser.move_absolute", position_um: 1e300 }, ["position_um"]],
    ["a rotator turn of 1e6 degrees", { command_type: "rotator.move_relative", delta_deg: 1e6 }, ["delta_deg"]],
  ])("%s is invalid, naming its path", async (_what, command, path) => {
    expectInvalid((await op.publish(command)).answer, path as string[]);
  });

  test("numbers JSON cannot hold as finite (1e999 parses as Infinity) are invalid, naming the path", async () => {
    for (const [field, text] of [
      ["duration_s", `{"command_type":"camera.exposure.start","duration_s":1e999,"binning":1}`],
      ["position_um", `{"command_type":"focuser.move_absolute","position_um":-1e999}`],
      ["offset_pattern.step_arcsec", `{"command_type":"mount.track","target":{"type":"named","name":"M31"},"offset_pattern":{"type":"raster","width_arcsec":60,"height_arcsec":60,"step_arcsec":1e999,"dwell_s":1}}`],
    ] as const) {
      const id = `inf-${field}`;
      op.commands.send(`{"id":"${id}","kind":"publish_command","telescope_uid":"sim-1","command_id":"${id}","command":${text}}`);
      expectInvalid(await op.commands.next((f) => f.id === id && f.kind === "error"), field.split("."));
    }
  });

  test("edge values inside the bounds are taken: a 100 x 100 raster in 0.1\" steps dwelling 0.1 s, a 1 s lease", async () => {
    const lease = await op.acquire(1);
    const edge = await op.run(raster({ width_arcsec: 9.9, height_arcsec: 9.9, step_arcsec: 0.1, dwell_s: 0.1 }), 60_000);
    if (edge.status !== "ok") throw new Error(JSON.stringify(edge));
    expect(edge.data.offset_pattern).toMatchObject({ step_arcsec: 0.1 });
    // Held for a second only: wait for its end before the next test needs the telescope.
    await op.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === lease && f.lease.state === "expired", 10_000);
  });

  test("a task planning more than 10,000 frames in all is refused over REST, naming exposures", async () => {
    const exposures = Array.from({ length: 11 }, () => ({ filter_id: "L", duration_s: 1, count: 1000 }));
    const res = await rest("/v1/tasks", { method: "POST", body: JSON.stringify({ target: { type: "named", name: "M31" }, exposures }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("invalid");
    expect(body.error.message).toContain("exposures");
    const tiny = await rest("/v1/tasks", { method: "POST", body: JSON.stringify({ target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 1e-300, count: 1 }] }) });
    expect(tiny.status).toBe(400);
    expect(((await tiny.json()) as any).error.message).toContain("exposures.0.duration_s");
  });
});

describe("leases", () => {
  let alice: Operator;
  let bob: Operator;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([Operator.connect(server, "alice"), Operator.connect(server, "bob")]);
  });
  afterAll(() => {
    alice.close();
    bob.close();
  });

  /** The outcome of one acquire: ok with the lease, or the code it was refused with (by the hub or the node). */
  const acquireOutcome = async (op: Operator, published: Promise<{ command_id: string; answer: Frame }>) => {
    const { command_id, answer } = await published;
    if (answer.kind !== "ack") return { code: answer.code as string, message: answer.message as string, details: answer.details };
    const r = await op.result(command_id, 30_000);
    return r.status === "ok" ? { code: "ok", lease_id: r.data.lease_id as string, holder: r.data.holder as string } : { code: r.error.code as string, message: r.error.message as string, details: r.error.details };
  };

  test("two operators acquiring at once while a task runs: exactly one ok, the other conflict naming the holder; one active lease on the stream", async () => {
    const spec = { target: { type: "named", name: "M31" }, exposures: [{ filter_id: "L", duration_s: 30, count: 2 }] };
    const created = await rest("/v1/tasks", { method: "POST", body: JSON.stringify(spec) });
    expect(created.status).toBe(201);
    const { task_id } = (await created.json()) as { task_id: string };
    await alice.snapshot("event_device_snapshot", (s) => s.state === "exposing", "camera", 20_000);

    const before = new Set(alice.stream.received);
    const acquire = { command_type: "manual_control_lease.acquire", duration_s: 20, purpose: "race" };
    const [a, b] = await Promise.all([acquireOutcome(alice, alice.publish(acquire)), acquireOutcome(bob, bob.publish(acquire))]);
    const outcomes = [a, b].map((o) => o.code).sort();
    expect(outcomes).toEqual(["conflict", "ok"]);
    const [winner, loser] = a.code === "ok" ? [a, b] : [b, a];
    const winnerName = a.code === "ok" ? "alice" : "bob";
    expect(winner.holder).toBe(winnerName);
    expect(loser.message).toContain(winnerName);
    expect((loser.details as { holder: string }).holder).toBe(winnerName);

    // Lease events are sequenced per telescope: once the release's event is here, every earlier one is too.
    const holderOp = winnerName === "alice" ? alice : bob;
    await holderOp.release(winner.lease_id!);
    await alice.stream.next((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === winner.lease_id && f.lease.state === "released", 10_000);
    const active = alice.stream.received.filter((f) => !before.has(f) && f.kind === "event_manual_control_lease" && f.lease.state === "active");
    expect(new Set(active.map((f) => f.lease.lease_id))).toEqual(new Set([winner.lease_id]));
    expect(active.every((f) => f.lease.holder === winnerName)).toBe(true);

    expect((await rest(`/v1/tasks/${task_id}`, { method: "DELETE" })).status).toBe(200);
    await alice.snapshot("event_device_snapshot", (s) => s.state === "idle", "camera", 20_000);
  });

  test(`renewals cannot extend a lease past max_lease_s (${MAX_LEASE_S} s) from its acquisition: refused as invalid, saying until when`, async () => {
    const acquired = await alice.run({ command_type: "manual_control_lease.acquire", duration_s: 5 });
    expect(acquired.status).toBe("ok");
    const { lease_id, acquired_at } = acquired.data;
    // Within the life: taken.
    const renewed = await alice.run({ command_type: "manual_control_lease.renew", lease_id, duration_s: 10 });
    expect(renewed.status).toBe("ok");
    // Each renewal for the whole maximum would once have pushed the end out forever.
    for (let i = 0; i < 3; i++) {
      const past = await alice.run({ command_type: "manual_control_lease.renew", lease_id, duration_s: MAX_LEASE_S });
      expect(past.status).toBe("error");
      expect(past.error.code).toBe("invalid");
      const start = Date.parse(acquired_at);
      expect(Math.abs(start - Date.now())).toBeLessThan(5000);
      expect(renewed.data.acquired_at).toBe(acquired_at);
      const limit = start + MAX_LEASE_S * 1000;
      expect(past.error.message).toContain(`may run until ${new Date(limit).toISOString()}`);
      expect(past.error.details).toMatchObject({ max_expires_at: new Date(limit).toISOString(), acquired_at: new Date(start).toISOString() });
      // What it offers is taken (less a second: the offer is counted from when it was made).
      const offered = past.error.details.max_duration_s as number;
      expect(offered).toBeGreaterThan(1);
      const fits = await alice.run({ command_type: "manual_control_lease.renew", lease_id, duration_s: offered - 1 });
      expect(fits.status).toBe("ok");
      expect(Date.parse(fits.data.expires_at)).toBeLessThanOrEqual(limit);
    }
    // The holder acquiring again continues the same life rather than starting a fresh one.
    const again = await alice.run({ command_type: "manual_control_lease.acquire", duration_s: MAX_LEASE_S });
    expect(again.status).toBe("error");
    expect(again.error.code).toBe("invalid");
    // The lease on the stream carries its acquisition time.
    const tel = await alice.snapshot("event_telescope_snapshot", (s) => s.lease?.lease_id === lease_id);
    expect(tel.mode).toBe("manual");
    const event = alice.stream.received.findLast((f) => f.kind === "event_manual_control_lease" && f.lease.lease_id === lease_id);
    expect(event!.lease.acquired_at).toBe(acquired_at);
    await alice.release(lease_id);
  });

  test("the cap survives a restart: the SkyNode learns the lease's acquisition time back from the hub; a signed-out cookie stays refused", async () => {
    const session = cookieOf(await post("/v1/auth/login", { name: "sam", password: "sam password" }));
    expect((await post("/v1/auth/logout", {}, as(session))).status).toBe(204);
    const acquired = await alice.run({ command_type: "manual_control_lease.acquire", duration_s: 20 });
    expect(acquired.status).toBe("ok");
    const { lease_id, acquired_at } = acquired.data;
    alice.close();
    bob.close();
    expect(await server.stop()).toBe(0);

    server = await startServer({ config: CONFIG, dataDir: server.dataDir });
    operatorToken = server.token("carol", "operator");
    [alice, bob] = await Promise.all([Operator.connect(server, "alice"), Operator.connect(server, "bob")]);
    await alice.snapshot("event_telescope_snapshot", (s) => s.mode === "manual" && s.lease?.lease_id === lease_id);
    const past = await alice.run({ command_type: "manual_control_lease.renew", lease_id, duration_s: MAX_LEASE_S });
    expect(past.status).toBe("error");
    expect(past.error.code).toBe("invalid");
    expect(past.error.details.acquired_at).toBe(new Date(Date.parse(acquired_at)).toISOString());
    const ok = await alice.run({ command_type: "manual_control_lease.renew", lease_id, duration_s: 5 });
    expect(ok.status).toBe("ok");
    // Another user still meets the lease after the restart.
    const grab = await acquireOutcome(bob, bob.publish({ command_type: "manual_control_lease.acquire", duration_s: 10 }));
    expect(grab.code).toBe("conflict");
    await alice.release(lease_id);

    expect((await get("/v1/auth/me", as(session))).status).toBe(401);
  });
});
