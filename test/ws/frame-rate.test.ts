import { expect, test } from "bun:test";
import { FrameRate } from "../../app/ws/frame-rate";

function clocked(perSecond: number, floodWindows?: number) {
  let t = 0;
  const rate = new FrameRate(perSecond, floodWindows, () => t);
  return { rate, advance: (ms: number) => (t += ms) };
}

test("a burst of the budget passes; over it, the first refusal of each second is answered with the count", () => {
  const { rate, advance } = clocked(100);
  for (let i = 0; i < 100; i++) expect(rate.take().verdict).toBe("ok");
  expect(rate.take()).toEqual({ verdict: "refused", answer: 1 });
  for (let i = 0; i < 50; i++) expect(rate.take()).toEqual({ verdict: "refused", answer: 0 });
  advance(1000);
  // A second later the bucket is full again.
  for (let i = 0; i < 100; i++) expect(rate.take().verdict).toBe("ok");
  expect(rate.take()).toEqual({ verdict: "refused", answer: 51 });
});

test("the budget refills continuously", () => {
  const { rate, advance } = clocked(10);
  for (let i = 0; i < 10; i++) rate.take();
  expect(rate.take().verdict).toBe("refused");
  advance(100);
  expect(rate.take().verdict).toBe("ok");
  expect(rate.take().verdict).toBe("refused");
});

test("refusals in each of five whole seconds in a row are a flood; a quiet second ends it", () => {
  const { rate, advance } = clocked(10);
  const flood = () => {
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 30; i++) {
        const v = rate.take().verdict;
        if (v === "flood") return s;
      }
      advance(1000);
    }
    return -1;
  };
  expect(flood()).toBe(4);
  const calm = clocked(10);
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 30; i++) calm.rate.take();
    calm.advance(1000);
  }
  calm.advance(2000); // a second with nothing refused
  for (let i = 0; i < 30; i++) expect(calm.rate.take().verdict).not.toBe("flood");
});
