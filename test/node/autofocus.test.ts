// imager.autofocus lands within a few focuser steps of the simulator's true focus from several starting points,
// with both strategies; the result carries the samples and the fit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FAST_SIM, Operator } from "../helpers/operator";
import { startServer, type TestServer } from "../helpers/server";

// Away from the default (25000) and the default start, so the sweeps have real work to do.
const TRUE_FOCUS = 23_350;
const STEP_UM = 5;
// The default autofocus.steps: samples in one sweep.
const SWEEP_STEPS = 9;
let server: TestServer;
let op: Operator;

beforeAll(async () => {
  server = await startServer({ config: FAST_SIM.replace("[focuser]\n", `[focuser]\nsim_best_focus_um = ${TRUE_FOCUS}\n`) });
  op = await Operator.connect(server, "dana");
  await op.acquire(3600);
  const point = await op.run({ command_type: "mount.track", target: { type: "named", name: "M31" } });
  expect(point.status).toBe("ok");
});
afterAll(async () => {
  op.close();
  expect(await server.stop()).toBe(0);
});

describe("autofocus", () => {
  for (const [start, strategy] of [[23_000, "vcurve"], [23_700, "vcurve"], [23_350, "vcurve"], [22_900, "parabolic"], [23_600, "v_curve"]] as const) {
    test(`from ${start} µm (${start < TRUE_FOCUS ? "below" : start > TRUE_FOCUS ? "above" : "at"} focus) with ${strategy}`, async () => {
      const moved = await op.run({ command_type: "focuser.move_absolute", position_um: start });
      expect(moved.status).toBe("ok");
      const r = await op.run({ command_type: "imager.autofocus", filter_id: "L", strategy }, 90_000);
      if (r.status !== "ok") throw new Error(JSON.stringify(r).slice(0, 2000));
      const d = r.data;
      expect(d.starting_position_um).toBe(start);
      // Within the optics' critical focus zone (f/5 at 550 nm: ±4.88·λ·N²/2 ≈ ±34 µm) with margin: 5 steps. The fit's
      // error depends on where the stars fall on the pixel grid; over 400 simulated star fields and starting points
      // it stayed within 15 µm (it reached 55 µm while fits with one sample past the minimum were accepted).
      expect(Math.abs(d.final_position_um - TRUE_FOCUS)).toBeLessThanOrEqual(5 * STEP_UM);
      // The fitted sweep (the last) brackets the minimum it reports.
      const last = d.samples.slice(-SWEEP_STEPS).map((s: { position_um: number }) => s.position_um);
      expect(last.filter((p: number) => p < d.fit.best_position).length).toBeGreaterThanOrEqual(2);
      expect(last.filter((p: number) => p > d.fit.best_position).length).toBeGreaterThanOrEqual(2);
      expect(d.final_position_um % STEP_UM).toBe(0);
      expect(d.samples.length).toBeGreaterThanOrEqual(9);
      for (const s of d.samples) {
        expect(s.stars).toBeGreaterThan(3);
        expect(s.hfr_px).toBeGreaterThan(0);
      }
      // The curve really is a V: the sharpest sample is well sharper than the sweep's ends.
      const hfrs = d.samples.map((s: { hfr_px: number }) => s.hfr_px);
      expect(Math.min(...hfrs) * 1.5).toBeLessThan(Math.max(...hfrs));
      expect(d.fit.best_position).toBeCloseTo(d.best_position_um, 0);
    }, 90_000);
  }
});
