// Seed 002's two patterns, end to end over real WebSocket clients, exactly in the order the seed writes them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { decodeFits } from "../../app/imaging/fits";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

let server: TestServer;
let op: Operator;

beforeAll(async () => {
  server = await startServer({ config: FAST_SIM });
  op = await Operator.connect(server, "alice");
});
afterAll(async () => {
  op.close();
  expect(await server.stop()).toBe(0);
});

describe("seed 002 patterns", () => {
  test("manual slew-and-expose sequence", async () => {
    // 1. subscribed to command_result filtered to the telescope (Operator.connect). 2. acquire.
    const lease = await op.acquire(600);
    expect(lease).toBeString();
    // 3. mount.track with the target; 4. the mount snapshot stream confirms tracking.
    const tracking = op.snapshot("event_device_snapshot", (s) => s.tracking === true && s.state === "tracking", "mount");
    const track = await op.run({ command_type: "mount.track", target: { type: "named", name: "M31" } });
    expect(track.status).toBe("ok");
    expect(track.data.target.name).toBe("M31");
    expect(Math.abs(track.data.position.ra_deg - 10.6847)).toBeLessThan(0.01);
    expect(Math.abs(track.data.position.dec_deg - 41.2689)).toBeLessThan(0.01);
    const mount = await tracking;
    expect(Math.abs(mount.pointing.ra_deg - 10.6847)).toBeLessThan(0.01);
    // 5. camera.exposure.start; 6. its result.
    const exposure = await op.run({ command_type: "camera.exposure.start", duration_s: 1, binning: 1, filter_id: "R" });
    expect(exposure.status).toBe("ok");
    const d = exposure.data;
    expect(d.image_id).toBeString();
    expect(d.duration_s).toBe(1);
    expect(d.filter_id).toBe("R");
    expect(d.width).toBe(1024);
    expect(existsSync(d.path)).toBe(true);
    const fits = decodeFits(new Uint8Array(readFileSync(d.path)));
    expect(fits.width).toBe(1024);
    expect(fits.cards.get("EXPTIME")).toBe(1);
    expect(fits.cards.get("FILTER")).toBe("R");
    expect(fits.cards.get("OBJECT")).toBe("M31");
    expect(fits.cards.get("CTYPE1")).toBe("RA---TAN");
    expect(Math.abs((fits.cards.get("CRVAL1") as number) - 10.6846) * 3600).toBeLessThan(5);
    expect(Math.abs((fits.cards.get("CRVAL2") as number) - 41.2692) * 3600).toBeLessThan(5);
    // 7. release.
    await op.release(lease);
    const lastLease = await op.snapshot("event_telescope_snapshot", (s) => s.mode === "automatic");
    expect(lastLease.lease).toBeNull();
  });

  test("autofocus sweep", async () => {
    const lease = await op.acquire(600);
    // Watch the focuser's device snapshots move while the sweep runs.
    const positions = new Set<number>();
    const watch = (async () => {
      for (;;) {
        const s = await op.snapshot("event_device_snapshot", () => true, "focuser", 30_000);
        positions.add(s.position_um);
        if (positions.size >= 5) return;
      }
    })();
    const result = await op.run({ command_type: "imager.autofocus", filter_id: "L", strategy: "vcurve" }, 60_000);
    await watch;
    expect(result.status).toBe("ok");
    expect(positions.size).toBeGreaterThanOrEqual(5);
    expect(result.data.samples.length).toBeGreaterThanOrEqual(9);
    expect(result.data.fit.strategy).toBe("vcurve");
    // The simulator's optics are sharpest at 25000 µm (config default); a few 5 µm steps either side is a pass.
    expect(Math.abs(result.data.final_position_um - 25_000)).toBeLessThanOrEqual(25);
    await op.release(lease);
  });
});
