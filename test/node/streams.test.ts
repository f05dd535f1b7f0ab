// What the SkyNode publishes on /v1/ws/stream: every snapshot kind, instrument merging, log lines, rates; and
// tracking of solar-system bodies and offset patterns, seen through the mount's snapshots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolveTarget } from "../../app/astro/targets";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

let server: TestServer;
let viewer: Operator;
let op: Operator;

// An equatorial site with the horizon limit at -10°: the planets spread along the ecliptic guarantee that one of
// them is above it at any time.
const SITE = { latitude_deg: 0, longitude_deg: 10, elevation_m: 100 };
const CONFIG = FAST_SIM.replace(/\[site\][^[]*/, `[site]\nlatitude_deg = 0\nlongitude_deg = 10\nelevation_m = 100\n`).replace("horizon_deg = 0", "horizon_deg = -10");

beforeAll(async () => {
  server = await startServer({ config: CONFIG });
  viewer = await Operator.connect(server, "vera", "viewer");
  op = await Operator.connect(server, "erin");
});
afterAll(async () => {
  viewer.close();
  op.close();
  expect(await server.stop()).toBe(0);
});

describe("snapshots", () => {
  test("a new viewer gets every snapshot kind, with the imager merged from camera, filter wheel and focuser", async () => {
    const late = await Operator.connect(server, "late", "viewer");
    // The retained state arrives in one burst right after the subscribe: well before the next 5 s heartbeat.
    for (const kind of ["event_constraint_snapshot", "event_constraint_status_snapshot", "event_instrument_snapshot", "event_telescope_snapshot"]) {
      await late.stream.kind(kind, 1000);
    }
    for (const device of ["camera", "filter_wheel", "focuser", "mount", "rotator"]) {
      const f = await late.stream.next((x) => x.kind === "event_device_snapshot" && x.device_uid === device, 1000);
      expect(f.snapshot.device_type).toBe(device);
      expect(f.snapshot.connected).toBe(true);
    }
    const imager = late.stream.received.find((f) => f.kind === "event_instrument_snapshot")!;
    expect(imager.instrument_uid).toBe("imager");
    expect(Object.keys(imager.snapshot.devices).sort()).toEqual(["camera", "filter_wheel", "focuser"]);
    const tel = late.stream.received.find((f) => f.kind === "event_telescope_snapshot")!.snapshot;
    expect(tel).toMatchObject({ mode: "automatic", lease: null, safe: true, tracking: false, slewing: false });
    expect(tel.pointing.alt_deg).toBeNumber();
    const status = late.stream.received.find((f) => f.kind === "event_constraint_status_snapshot")!.snapshot;
    expect(status.constraints.map((c: { name: string }) => c.name).sort()).toEqual(["devices_connected", "limit_switches", "mount_limits", "roof", "sun_altitude", "target_altitude", "weather"]);
    late.close();
  });

  test("idle: a heartbeat every few seconds; moving: at most 10 Hz", async () => {
    // Idle from the focuser's first temperature reading on (a change, about a second after start-up).
    const warm = await viewer.snapshot("event_device_snapshot", (s) => s.temperature_c !== null, "focuser", 8000);
    const hb1 = await viewer.snapshot("event_telescope_snapshot", (s) => s.ts > warm.ts, undefined, 8000);
    const hb2 = await viewer.snapshot("event_telescope_snapshot", () => true, undefined, 8000);
    const gap = Date.parse(hb2.ts) - Date.parse(hb1.ts);
    expect(gap).toBeGreaterThanOrEqual(4000);
    expect(gap).toBeLessThanOrEqual(6500);
    const lease = await op.acquire(600);
    const from = viewer.stream.received.length;
    const move = await op.run({ command_type: "focuser.move_absolute", position_um: 45_000 });
    expect(move.status).toBe("ok");
    const focus = viewer.stream.received.slice(from).filter((f) => f.kind === "event_device_snapshot" && f.device_uid === "focuser");
    const times = focus.map((f) => Date.parse(f.snapshot.ts));
    expect(focus.length).toBeGreaterThanOrEqual(3); // ~1 s of motion at 20 mm/s
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(90);
    const positions = focus.map((f) => f.snapshot.position_um);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    await op.run({ command_type: "focuser.move_absolute", position_um: 25_000 });
    await op.release(lease);
  });

  test("the SkyNode's log lines arrive as telescope_log entries", async () => {
    const line = viewer.stream.next((f) => f.kind === "event_telescope_log" && f.entry.msg === "manual_control_lease.acquire done");
    const lease = await op.acquire(60);
    const entry = (await line).entry;
    expect(entry.level).toBe("info");
    expect(entry.command_type).toBe("manual_control_lease.acquire");
    expect(Date.parse(entry.ts)).toBeGreaterThan(Date.now() - 10_000);
    await op.release(lease);
  });
});

describe("tracking", () => {
  test("a solar-system body is followed: the pointing stays on its current position", async () => {
    const now = new Date();
    const bodies = ["Moon", "Mars", "Jupiter", "Saturn", "Venus", "Mercury", "Uranus", "Neptune"] as const;
    const up = bodies
      .map((body) => ({ body, r: resolveTarget({ type: "solar_system", body }, now, SITE) }))
      .filter((x): x is { body: (typeof bodies)[number]; r: Exclude<typeof x.r, { error: string }> } => !("error" in x.r))
      .sort((a, b) => b.r.alt_deg - a.r.alt_deg)[0]!;
    expect(up.r.alt_deg).toBeGreaterThan(-5);
    const lease = await op.acquire(600);
    const r = await op.run({ command_type: "mount.track", target: { type: "solar_system", body: up.body } });
    if (r.status !== "ok") throw new Error(JSON.stringify(r));
    expect(r.data.target.name).toBe(up.body);
    expect(Math.abs(r.data.position.ra_deg - r.data.target.ra_deg)).toBeLessThan(0.01);
    // Over a few seconds the pointing follows the body: its J2000 RA/Dec stays on the body's.
    await Bun.sleep(2500);
    const s = await viewer.snapshot("event_device_snapshot", (x) => x.tracking === true, "mount");
    const later = resolveTarget({ type: "solar_system", body: up.body }, new Date(Date.parse(s.ts)), SITE) as { ra_deg: number; dec_deg: number };
    expect(Math.abs(s.pointing.ra_deg - later.ra_deg) * 3600 * Math.cos((later.dec_deg * Math.PI) / 180)).toBeLessThan(5);
    expect(Math.abs(s.pointing.dec_deg - later.dec_deg) * 3600).toBeLessThan(5);
    await op.release(lease);
  });

  test("a raster offset pattern moves the pointing around the target and stays within its box", async () => {
    const lease = await op.acquire(600);
    const pattern = { type: "raster", width_arcsec: 600, height_arcsec: 600, step_arcsec: 300, dwell_s: 0.5 };
    const r = await op.run({ command_type: "mount.track", target: { type: "horizontal", alt_deg: 60, az_deg: 90 }, offset_pattern: pattern });
    expect(r.status).toBe("ok");
    const centre = r.data.target;
    const seen: { dx: number; dy: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await viewer.snapshot("event_device_snapshot", (x) => x.tracking === true, "mount");
      const dy = (s.pointing.dec_deg - centre.dec_deg) * 3600;
      const dx = (s.pointing.ra_deg - centre.ra_deg) * 3600 * Math.cos((centre.dec_deg * Math.PI) / 180);
      seen.push({ dx, dy });
    }
    // The horizontal target drifts in RA/Dec; only the pattern's spread is checked: it moves, within ~the box.
    const spread = Math.max(...seen.map((p) => p.dy)) - Math.min(...seen.map((p) => p.dy));
    expect(spread).toBeGreaterThan(100);
    expect(spread).toBeLessThan(900);
    await op.run({ command_type: "mount.point", target: { type: "horizontal", alt_deg: 60, az_deg: 90 } });
    await op.release(lease);
  });
});
