// The limit switch of bench/limits.ts: a thread of its own that closes the switch at a moment the main thread does
// not choose, the way the GPIO event-reader worker (hal/gpio/event-reader.worker.ts) wakes on a kernel edge. Told
// `{ delayMs }`, it waits that long, stamps the edge on the wall clock and posts `{ t }` to the main thread, which
// delivers it to the appliance's GPIO chip: the message hop and the main thread's queue are part of the latency.
declare var self: Worker;

self.onmessage = (e: MessageEvent<{ delayMs: number }>) => {
  setTimeout(() => postMessage({ t: performance.timeOrigin + performance.now() }), e.data.delayMs);
};
