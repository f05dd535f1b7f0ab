// The blocking half of event-reader.ts: on its own thread, poll() the line-request fd and a wake pipe, read() whole
// event records, run the reflexes of rising edges (a limit switch's stop written on a serial line), and post each
// batch (raw bytes, transferred) to the main thread. It never closes either fd: the
// owner closes them once `state` says this thread no longer touches them.
import { writeOutOfBand } from "../serial/wire";
import * as libc from "./libc";
import { decodeLineEvents, LINE_EVENT_SIZE, LineEventId } from "./uapi";
import { ReaderState, type ReaderInit, type ReaderMessage, type ReaderReflex } from "./event-reader";

declare var self: Worker;

// Room for a full default kernel buffer (16 × lines) of a few lines per read; more just takes another read.
const BATCH_RECORDS = 256;

function post(message: ReaderMessage, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

const writeOnce = (fd: number, bytes: Uint8Array): boolean => {
  try {
    libc.writeAll(fd, bytes, "reflex write");
    return true;
  } catch {
    return false; // the port is going away: the main thread's own stop reports it
  }
};

/** Runs the reflexes of the rising edges in a batch, before the batch is posted: nothing on the main thread comes
 * first. */
function reflex(records: Uint8Array, reflexes: ReaderReflex[]): void {
  for (const ev of decodeLineEvents(records)) {
    if (ev.id !== LineEventId.RISING_EDGE) continue;
    for (const r of reflexes) if (r.offset === ev.offset) writeOutOfBand(r.wire, r.bytes, writeOnce, r.latch);
  }
}

/** SCHED_FIFO priority of a reader with reflexes: above every ordinary thread, below the kernel's own (50). */
const REFLEX_PRIORITY = 40;

function run({ fd, wakeFd, reflexes }: ReaderInit): void {
  if (reflexes.length > 0) {
    const refused = libc.realtimeThread(REFLEX_PRIORITY);
    if (refused) post({ type: "priority", refused });
  }
  const fds = libc.pollFds([fd, wakeFd]);
  const buf = new Uint8Array(BATCH_RECORDS * LINE_EVENT_SIZE);
  post({ type: "ready" });
  for (;;) {
    if (libc.poll(fds, -1) < 0) {
      const n = libc.errno();
      if (n === libc.EINTR) continue;
      post({ type: "error", message: libc.lastErrorMessage("poll", n) });
      return;
    }
    if (libc.revents(fds, 1) !== 0) return; // woken to stop
    const ev = libc.revents(fds, 0);
    if (ev & libc.POLLNVAL) {
      post({ type: "error", message: `poll: fd ${fd} is not open (POLLNVAL)` });
      return;
    }
    if (ev === 0) continue;
    // POLLIN (or POLLHUP/POLLERR, which read() turns into end of file or an errno). Only this thread reads the fd,
    // so after POLLIN the read cannot block.
    const n = libc.readInto(fd, buf);
    if (n < 0) {
      const e = libc.errno();
      if (e === libc.EINTR || e === libc.EAGAIN) continue;
      post({ type: "error", message: libc.lastErrorMessage("read", e) });
      return;
    }
    if (n === 0) {
      post({ type: "eof" });
      return;
    }
    if (reflexes.length > 0) reflex(buf.subarray(0, n - (n % LINE_EVENT_SIZE)), reflexes);
    const bytes = buf.slice(0, n).buffer;
    post({ type: "data", bytes }, [bytes]);
  }
}

self.onmessage = (event: MessageEvent<ReaderInit>) => {
  const init = event.data;
  const state = new Int32Array(init.state);
  // The owner may have stopped us before this thread even started: then the fds are not ours to touch.
  if (Atomics.compareExchange(state, 0, ReaderState.Idle, ReaderState.Polling) !== ReaderState.Idle) return;
  try {
    run(init);
  } catch (e) {
    post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  } finally {
    Atomics.store(state, 0, ReaderState.Stopped);
    Atomics.notify(state, 0);
  }
};
