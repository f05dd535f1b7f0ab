// The blocking half of event-reader.ts: on its own thread, poll() the line-request fd and a wake pipe, read() whole
// event records and post each batch (raw bytes, transferred) to the main thread. It never closes either fd: the
// owner closes them once `state` says this thread no longer touches them.
import * as libc from "./libc";
import { LINE_EVENT_SIZE } from "./uapi";
import { ReaderState, type ReaderInit, type ReaderMessage } from "./event-reader";

declare var self: Worker;

// Room for a full default kernel buffer (16 × lines) of a few lines per read; more just takes another read.
const BATCH_RECORDS = 256;

function post(message: ReaderMessage, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

function run({ fd, wakeFd }: ReaderInit): void {
  const fds = libc.pollFds([fd, wakeFd]);
  const buf = new Uint8Array(BATCH_RECORDS * LINE_EVENT_SIZE);
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
