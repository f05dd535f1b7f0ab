// The star-field render thread: the same pixels as a direct render, and every way a worker can fail ends in a
// rejected frame (never a hang), after which the next render gets a fresh worker.
import { describe, expect, test } from "bun:test";
import { renderStarField, Rng, type StarFieldOptions } from "../../../hal/sim/star-field";
import { StarFieldThread } from "../../../hal/sim/star-field-thread";

const frame = (over: Partial<StarFieldOptions> = {}): StarFieldOptions => ({
  width: 1024,
  height: 768,
  stars: [],
  sigma_px: 2.5,
  background_e: 40,
  read_noise_e: 3.5,
  gain_e_per_adu: 1.5,
  bias_adu: 500,
  seed: 7,
  ...over,
});

/** A stand-in worker script, run as a real worker from a blob: URL. */
const workerScript = (source: string) => new URL(URL.createObjectURL(new File([`declare var self: Worker;\n${source}`], "worker.ts")));

/** Why each promise rejected ("resolved" if it did not). Awaited plainly: bun's `expect(p).rejects` waits in a way
 * that can miss a worker's reply, and promises that fail together each need a handler before they do. */
async function rejections(...promises: Promise<unknown>[]): Promise<string[]> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) => (s.status === "rejected" ? (s.reason instanceof Error ? s.reason.message : String(s.reason)) : "resolved"));
}

describe("StarFieldThread", () => {
  test("renders exactly what renderStarField renders for the same options, several frames in request order", async () => {
    const r = new Rng(11);
    const stars = Array.from({ length: 300 }, () => ({ x: r.uniform() * 1040 - 8, y: r.uniform() * 784 - 8, flux: 10 + r.uniform() * 3e5 }));
    const requests = [frame({ stars, hot_pixels: 30 }), frame({ stars, seed: 8, sigma_px: 6 }), frame({ width: 341, height: 256, stars, background_e: 2 })];
    const thread = new StarFieldThread();
    try {
      const rendered = await Promise.all(requests.map((opts) => thread.render(opts)));
      requests.forEach((opts, i) => {
        expect(rendered[i]!).toBeInstanceOf(Uint16Array);
        expect(rendered[i]!).toEqual(renderStarField(opts));
      });
      expect(rendered[0]).not.toEqual(rendered[1]);
    } finally {
      thread.close();
    }
  });

  test("a render that throws rejects that frame with its reason, and the thread renders the next one", async () => {
    const thread = new StarFieldThread();
    try {
      const [badSigma, badSize] = await rejections(thread.render(frame({ sigma_px: 0 })), thread.render(frame({ width: 0 })));
      expect(badSigma).toStartWith("star-field render failed: renderStarField: sigma_px and gain must be positive");
      expect(badSize).toBe("star-field render failed: renderStarField: bad frame size 0×768");
      expect(await thread.render(frame({ width: 64, height: 48 }))).toEqual(renderStarField(frame({ width: 64, height: 48 })));
    } finally {
      thread.close();
    }
  });

  test("close() rejects the frames still owed, and a later render starts a new worker", async () => {
    const thread = new StarFieldThread();
    const big = frame({ width: 2048, height: 2048 });
    const owed = [thread.render(big), thread.render({ ...big, seed: 8 })];
    thread.close();
    expect(await rejections(...owed)).toEqual(["star-field render thread was closed", "star-field render thread was closed"]);
    const small = frame({ width: 100, height: 80 });
    expect(await thread.render(small)).toEqual(renderStarField(small));
    thread.close();
  });

  test("a worker that exits mid-frame, fails to load, never answers or answers nonsense rejects what it owes", async () => {
    const cases: [string, string, RegExp, number?][] = [
      ["exits", "self.onmessage = () => process.exit(3);", /^star-field render thread exited \(code 3\)$/],
      ["fails to load", "throw new Error('broken on purpose');", /^star-field render thread failed: [^]*broken on purpose/],
      ["never answers", "self.onmessage = () => {};", /^star-field render thread did not answer within 0\.3 s$/, 300],
      [
        "answers with the wrong size",
        "self.onmessage = (e: MessageEvent) => self.postMessage({ id: e.data.id, pixels: new Uint16Array(3) });",
        /^star-field render thread returned 3 pixels, expected 786432$/,
      ],
    ];
    for (const [, source, error, timeout_ms] of cases) {
      const thread = new StarFieldThread({ script: workerScript(source), timeout_ms });
      try {
        const owed = [thread.render(frame()), thread.render(frame({ seed: 2 }))];
        for (const reason of await rejections(...owed)) expect(reason).toMatch(error);
        // Nothing is left waiting on a dead worker: the next frame (on a fresh worker where the last one died) fails
        // the same way instead of hanging.
        expect((await rejections(thread.render(frame())))[0]).toMatch(error);
      } finally {
        thread.close();
      }
    }
  });
});
