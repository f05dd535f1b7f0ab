// The limit switch of bench/limits.ts: a thread of its own that closes the switch at a moment the main thread does
// not choose. Told `{ delayMs }`, it waits that long, stamps the edge on the wall clock and posts `{ t }` to the
// main thread, which hands it to the appliance's GPIO chip, as the GPIO event-reader worker delivers a kernel edge
// (the message hop and the main thread's queue are part of the latency). Told `{ delayMs, pipeFd, offset }`, it
// stamps the edge and writes a rising-edge record into that pipe, as the kernel would into a line request fd, for
// an EventReader whose reader thread runs the reflex; then it posts `{ t }` all the same.
import { writeSync } from "node:fs";
import { encodeLineEvents, LineEventId } from "../hal/gpio/uapi";

declare var self: Worker;

let seqno = 0;

self.onmessage = (e: MessageEvent<{ delayMs: number; pipeFd?: number; offset?: number }>) => {
  const { delayMs, pipeFd, offset = 0 } = e.data;
  setTimeout(() => {
    const t = performance.timeOrigin + performance.now();
    if (pipeFd !== undefined) {
      seqno++;
      writeSync(pipeFd, encodeLineEvents([{ timestampNs: BigInt(Math.round(t * 1e6)), id: LineEventId.RISING_EDGE, offset, seqno, lineSeqno: seqno }]));
    }
    postMessage({ t });
  }, delayMs);
};
