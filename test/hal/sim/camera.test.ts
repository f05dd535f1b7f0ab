// The simulated camera with its frames rendered off the main thread: same pixels as a direct render, an abort during
// the render never delivers the stale frame later, failures reject the exposure, and the render thread neither
// outlives close() nor keeps the process alive.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExposureOutcome } from "../../../hal/camera";
import { SimCamera, type SimCameraOptions, type SkyScene } from "../../../hal/sim/camera";
import { renderStarField } from "../../../hal/sim/star-field";

const OPTICS: SimCameraOptions = {
  width: 1024,
  height: 768,
  pixel_um: 3.76,
  binnings: [1, 2],
  focal_length_mm: 530,
  aperture_mm: 106,
  seeing_arcsec: 2.5,
  best_focus_um: 25_000,
  readout_s: 0,
  sky_e_per_s: 40,
  read_noise_e: 3.5,
  gain_e_per_adu: 1,
  bias_adu: 500,
};

/** Optics pointing nowhere (dome closed): the frame is sky and noise only, fully set by the options and the seed,
 * so it can be rendered directly for comparison. `onReadout` runs as the camera reads out. */
const darkScene = (onReadout: () => void = () => {}): SkyScene => ({
  pointing: () => {
    onReadout();
    return null;
  },
  focuserPosition: () => 25_000,
  throughput: () => 1,
});

/** Pointed at the sky, with one catalog star of mag 5 right at the centre of the field. */
const POINTED: SkyScene = {
  pointing: () => ({ ra_deg: 83.8, dec_deg: 22, rotation_deg: 30 }),
  focuserPosition: () => 25_000,
  throughput: () => 1,
  brightStars: () => [{ ra_deg: 83.8, dec_deg: 22, mag: 5 }],
};

/** What the camera renders for a dark frame: the n-th frame of a camera uses seed n. */
function darkFrame(o: SimCameraOptions, duration_s: number, binning: number, seed: number): Uint16Array {
  return renderStarField({
    width: Math.floor(o.width / binning),
    height: Math.floor(o.height / binning),
    stars: [],
    sigma_px: 1,
    background_e: o.sky_e_per_s * duration_s * binning * binning,
    read_noise_e: o.read_noise_e,
    gain_e_per_adu: o.gain_e_per_adu,
    bias_adu: o.bias_adu,
    seed,
  });
}

function frameOf(outcome: ExposureOutcome) {
  if (!("frame" in outcome)) throw new Error(`expected a frame, got aborted: ${outcome.aborted}`);
  return outcome.frame;
}

/** How the exposure ended: its outcome, or the message it was rejected with. */
const settled = (p: Promise<ExposureOutcome>): Promise<ExposureOutcome | { rejected: string }> =>
  p.catch((err: unknown) => ({ rejected: err instanceof Error ? err.message : String(err) }));

const cameras: SimCamera[] = [];
const camera = (o: SimCameraOptions, scene: SkyScene) => {
  const c = new SimCamera(o, scene);
  cameras.push(c);
  return c;
};
afterEach(() => {
  for (const c of cameras.splice(0)) c.close();
});

describe("SimCamera", () => {
  test("frames are the pixels renderStarField gives for the same options and seed, binned or not", async () => {
    const cam = camera(OPTICS, darkScene());
    const first = frameOf(await cam.expose(0.05, 1));
    expect(first.pixels).toEqual(darkFrame(OPTICS, 0.05, 1, 1));
    expect([first.width, first.height, first.binning, first.duration_s]).toEqual([1024, 768, 1, 0.05]);
    const binned = frameOf(await cam.expose(0.2, 2));
    expect(binned.pixels).toEqual(darkFrame(OPTICS, 0.2, 2, 2));
    expect([binned.width, binned.height, binned.binning]).toEqual([512, 384, 2]);
    expect(cam.status().state).toBe("idle");
  });

  test("pointed at the sky, the same camera settings give the same frame, with the stars where they belong", async () => {
    const [a, b] = [camera(OPTICS, POINTED), camera(OPTICS, POINTED)];
    const [fa, fb] = await Promise.all([a.expose(0.5, 1), b.expose(0.5, 1)]).then((o) => o.map(frameOf));
    expect(fa!.pixels).toEqual(fb!.pixels);
    expect(fa!.pixels).not.toEqual(darkFrame(OPTICS, 0.5, 1, 1));
    // The centre star lands on the middle four pixels (the centre is at 511.5, 383.5).
    const sky = 500 + 40 * 0.5;
    for (const [x, y] of [[511, 383], [512, 383], [511, 384], [512, 384]] as const) {
      expect(fa!.pixels[y * 1024 + x]!).toBeGreaterThan(sky + 1000);
    }
  });

  test("an abort while the frame renders ends the exposure as aborted, and its frame is never delivered", async () => {
    // A large frame, so its render is still running on the worker when the abort comes.
    const big = { ...OPTICS, width: 2048, height: 2048 };
    let readingOut!: () => void;
    const readout = new Promise<void>((resolve) => (readingOut = resolve));
    const cam = camera(big, darkScene(() => readingOut()));
    const exposure = cam.expose(0, 1);
    await readout;
    // The star list is done and the render is on its way: abort now.
    await cam.abort("operator abort");
    expect(await exposure).toEqual({ aborted: "operator abort" });
    expect(cam.status().state).toBe("idle");
    // The next exposure is still open when the stale frame comes back; it must get its own frame (seed 2).
    const next = frameOf(await cam.expose(0.3, 1));
    expect(next.pixels).toEqual(darkFrame(big, 0.3, 1, 2));
    expect(next.duration_s).toBe(0.3);
  });

  test("a render that fails rejects the exposure with the reason and leaves the camera idle and usable", async () => {
    const cam = camera({ ...OPTICS, gain_e_per_adu: 0 }, darkScene());
    expect(await settled(cam.expose(0, 1))).toEqual({
      rejected: "camera readout failed: star-field render failed: renderStarField: sigma_px and gain must be positive, background and read noise non-negative",
    });
    expect(cam.status().state).toBe("idle");

    let broken = true;
    const flaky = camera(OPTICS, {
      ...darkScene(),
      pointing: () => {
        if (broken) throw new Error("mount not answering");
        return null;
      },
    });
    expect(await settled(flaky.expose(0, 1))).toEqual({ rejected: "camera readout failed: mount not answering" });
    expect(flaky.status().state).toBe("idle");
    broken = false;
    expect(frameOf(await flaky.expose(0, 1)).pixels.length).toBe(1024 * 768);
  });

  test("close() ends an exposure in progress as aborted; the camera can expose again afterwards", async () => {
    const cam = camera(OPTICS, darkScene());
    const long = cam.expose(3600, 1);
    cam.close();
    expect(await long).toEqual({ aborted: "camera closed" });
    expect(cam.status().state).toBe("idle");
    expect(frameOf(await cam.expose(0, 2)).pixels).toEqual(darkFrame(OPTICS, 0, 2, 1));
  });

  test("a process that exposes and never closes the camera still exits by itself", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skynode-camera-"));
    const script = join(dir, "expose.ts");
    const cameraModule = join(import.meta.dir, "../../../hal/sim/camera.ts");
    await Bun.write(
      script,
      `import { SimCamera } from ${JSON.stringify(cameraModule)};
const cam = new SimCamera(${JSON.stringify(OPTICS)}, { pointing: () => null, focuserPosition: () => 0, throughput: () => 1 });
const outcome = await cam.expose(0, 1);
console.log("frame" in outcome ? outcome.frame.pixels.length : "aborted");
`,
    );
    const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    try {
      const timeout = new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 20_000).unref());
      expect(await Promise.race([proc.exited, timeout])).toBe(0);
      expect((await new Response(proc.stdout).text()).trim()).toBe(String(1024 * 768));
    } finally {
      proc.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
