import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, constants, mkdtempSync, openSync, readdirSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncGetBaudRate } from "@serialport/bindings-cpp/dist/load-bindings";
import { DeviceError } from "../../../hal/errors";
import type { HalLog } from "../../../hal/log";
import { type SerialOptions, SerialPort } from "../../../hal/serial/port";
import { inputQueueLength, lineSettings } from "../../../hal/serial/termios";
import type { Signal } from "../../../hal/signal";
import { PtyPair } from "../../helpers/pty";

const getBaudRate = asyncGetBaudRate as (fd: number) => Promise<{ baudRate: number }>;

const pairs: PtyPair[] = [];
const ports: SerialPort[] = [];
const probes: number[] = [];

afterEach(async () => {
  for (const port of ports.splice(0)) await port.close();
  for (const fd of probes.splice(0)) closeSync(fd);
  for (const pair of pairs.splice(0)) await pair.close();
});

async function ptyPair(dir?: string): Promise<PtyPair> {
  const pair = await PtyPair.open(dir);
  pairs.push(pair);
  return pair;
}

function serialPort(options: SerialOptions): SerialPort {
  const port = new SerialPort({ reopenMs: 20, ...options });
  ports.push(port);
  return port;
}

async function connectedPorts(pair: PtyPair, options: Partial<SerialOptions> = {}): Promise<[SerialPort, SerialPort]> {
  const a = serialPort({ path: pair.a, baudRate: 115200, name: "port a", ...options });
  const b = serialPort({ path: pair.b, baudRate: 115200, name: "port b", ...options });
  await Promise.all([a.whenConnected(5000), b.whenConnected(5000)]);
  return [a, b];
}

/** A second descriptor on the tty behind `path`, to observe what the kernel holds (termios, input queue). */
function probe(path: string): number {
  const fd = openSync(realpathSync(path), constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  probes.push(fd);
  return fd;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the first value the signal emits that passes `accept`. */
function next<T>(signal: Signal<T>, accept: (value: T) => boolean, ms: number, what: string): Promise<T> {
  let off = () => {};
  const seen = new Promise<T>((resolve) => {
    off = signal.on((value) => {
      if (accept(value)) resolve(value);
    });
  });
  return within(seen, ms, what).finally(off);
}

/** Collects what the port receives until `count` bytes have arrived. */
function receive(port: SerialPort, count: number, ms = 5000): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let off = () => {};
  const done = new Promise<Uint8Array>((resolve) => {
    off = port.data.on((chunk) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= count) resolve(Buffer.concat(chunks));
    });
  });
  return within(done, ms, `${count} bytes (got ${total})`).finally(off);
}

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Bun closes its own dup of a port's fd shortly after the read stream ends: poll for that, with a deadline. */
async function fdCountSettlesAt(expected: number, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  while (fdCount() > expected && Date.now() < deadline) await Bun.sleep(5);
  return fdCount();
}

function recordingLog() {
  const entries: { level: "info" | "warn" | "error"; message: string }[] = [];
  const log: HalLog = {
    info: (_f, message) => entries.push({ level: "info", message }),
    warn: (_f, message) => entries.push({ level: "warn", message }),
    error: (_f, message) => entries.push({ level: "error", message }),
  };
  const count = (level: "info" | "warn" | "error", about: string) =>
    entries.filter((e) => e.level === level && e.message.includes(about)).length;
  return { log, entries, count };
}

const text = (s: string) => new TextEncoder().encode(s);

function writeError(port: SerialPort): DeviceError | null {
  try {
    port.write(text("x"));
    return null;
  } catch (err) {
    return err as DeviceError;
  }
}

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  return bytes;
}

describe("SerialPort over a socat pty pair", () => {
  test("exchanges bytes both ways, byte-exact, in order", async () => {
    const pair = await ptyPair();
    const [a, b] = await connectedPorts(pair);
    expect(a.connected && b.connected).toBe(true);
    await a.whenConnected(); // at once when already connected

    let got = receive(b, 5);
    a.write(text("hello"));
    expect(new TextDecoder().decode(await got)).toBe("hello");
    got = receive(a, 5);
    b.write(text("world"));
    expect(new TextDecoder().decode(await got)).toBe("world");

    // 64 KiB each way at once: far more than the pty buffers hold, so write() meets EAGAIN and queues.
    const ab = randomBytes(65536);
    const ba = randomBytes(65536);
    const tail = text("tail");
    const atB = receive(b, ab.length + tail.length, 10_000);
    const atA = receive(a, ba.length, 10_000);
    a.write(ab);
    a.write(tail); // must queue behind the bytes the OS has not taken yet
    b.write(ba);
    expect(Buffer.compare(await atB, Buffer.concat([ab, tail]))).toBe(0);
    expect(Buffer.compare(await atA, Buffer.from(ba))).toBe(0);
  });

  test("sets the baud rate and framing on the tty", async () => {
    const pair = await ptyPair();
    const fast = serialPort({ path: pair.a, baudRate: 115200 });
    const slow = serialPort({ path: pair.b, baudRate: 9600, dataBits: 7, parity: "even", stopBits: 1 });
    await Promise.all([fast.whenConnected(5000), slow.whenConnected(5000)]);
    const fastFd = probe(pair.a);
    const slowFd = probe(pair.b);
    expect(await getBaudRate(fastFd)).toEqual({ baudRate: 115200 });
    expect(lineSettings(fastFd)).toEqual({ dataBits: 8, parity: "none", stopBits: 1 });
    expect(await getBaudRate(slowFd)).toEqual({ baudRate: 9600 });
    // The pty driver forces CS8 and clears PARENB on every termios change (drivers/tty/pty.c pty_set_termios), so
    // 7E1 cannot be read back from a pty; the stop bits can.
    expect(lineSettings(slowFd).stopBits).toBe(1);

    await slow.close();
    const twoStop = serialPort({ path: pair.b, baudRate: 9600, dataBits: 7, parity: "odd", stopBits: 2 });
    await twoStop.whenConnected(5000);
    expect(await getBaudRate(slowFd)).toEqual({ baudRate: 9600 });
    expect(lineSettings(slowFd).stopBits).toBe(2);
  });

  test("survives unplug/replug: disconnects, refuses writes, reopens by itself, leaks no fd", async () => {
    const pair = await ptyPair();
    const logA = recordingLog();
    const a = serialPort({ path: pair.a, baudRate: 115200, name: "mount serial port", log: logA.log });
    const b = serialPort({ path: pair.b, baudRate: 115200, name: "port b" });
    await Promise.all([a.whenConnected(5000), b.whenConnected(5000)]);
    const baseline = fdCount();

    for (let cycle = 0; cycle < 3; cycle++) {
      const lost = Promise.all([
        next(a.connection, (up) => !up, 5000, "a disconnected"),
        next(b.connection, (up) => !up, 5000, "b disconnected"),
      ]);
      await pair.stop();
      // Whether the read loop or this write (EIO) notices first, the caller gets the same error.
      expect(writeError(b)?.kind).toBe("disconnected");
      await lost;
      expect(a.connected).toBe(false);
      expect(b.connected).toBe(false);
      const thrown = writeError(a);
      expect(thrown).toBeInstanceOf(DeviceError);
      expect(thrown?.kind).toBe("disconnected");
      expect(thrown?.message).toBe(`mount serial port ${pair.a} is disconnected`);
      a.discardInput(); // harmless while disconnected

      // Absent for several retry periods (asserting that retries stay quiet: there is no event to await).
      await Bun.sleep(150);
      const back = Promise.all([
        next(a.connection, (up) => up, 5000, "a reconnected"),
        next(b.connection, (up) => up, 5000, "b reconnected"),
      ]);
      await pair.restart();
      await back;
      const word = `up#${cycle}`;
      const got = receive(b, word.length);
      a.write(text(word));
      expect(new TextDecoder().decode(await got)).toBe(word);
    }

    expect(await fdCountSettlesAt(baseline)).toBe(baseline);
    // One warning for each loss and one for the first failed reopen of each absence, not one per retry.
    expect(logA.count("warn", "disconnected")).toBe(3);
    expect(logA.count("warn", "cannot be opened")).toBe(3);
    expect(logA.count("info", "connected")).toBe(4);
    expect(logA.entries.filter((e) => e.level === "error")).toEqual([]);
  });

  test("waits for a path that does not exist yet, warning once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skynode-serial-"));
    const log = recordingLog();
    const port = serialPort({ path: join(dir, "a"), baudRate: 9600, name: "focuser serial port", log: log.log });
    expect(port.connected).toBe(false);
    const err = await port.whenConnected(200).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain(`focuser serial port ${join(dir, "a")} did not connect within 200 ms`);
    expect(err?.message).toContain("ENOENT");
    expect(log.count("warn", "cannot be opened")).toBe(1);

    await ptyPair(dir);
    await port.whenConnected(5000);
    expect(port.connected).toBe(true);
    expect(log.count("warn", "cannot be opened")).toBe(1);
  });

  test("discardInput drops bytes the tty already holds", async () => {
    const pair = await ptyPair();
    const [a, b] = await connectedPorts(pair);
    const queueAtB = probe(pair.b);
    const stale = text("STALE");
    const fresh = text("FRESH");
    const received: Uint8Array[] = [];
    b.data.on((chunk) => received.push(chunk));

    a.write(stale);
    // Wait without yielding, so b's read loop cannot take the bytes: socat (another process) moves them into b's
    // tty input queue meanwhile.
    const deadline = Date.now() + 5000;
    while (inputQueueLength(queueAtB) < stale.length) {
      if (Date.now() > deadline) throw new Error("stale bytes never reached b's input queue");
    }
    b.discardInput();
    expect(inputQueueLength(queueAtB)).toBe(0);

    const got = receive(b, fresh.length);
    a.write(fresh);
    expect(new TextDecoder().decode(await got)).toBe("FRESH");
    expect(new TextDecoder().decode(Buffer.concat(received))).toBe("FRESH");
  });

  test("close is idempotent, releases the fd and stops reopening", async () => {
    const pair = await ptyPair();
    const before = fdCount();
    const port = serialPort({ path: pair.a, baudRate: 115200, name: "port" });
    await port.whenConnected(5000);
    const down = next(port.connection, (up) => !up, 5000, "disconnected on close");
    const first = port.close();
    const second = port.close();
    await Promise.all([first, second, down]);
    await port.close();
    expect(port.connected).toBe(false);
    expect(() => port.write(text("x"))).toThrow(DeviceError);
    await expect(port.whenConnected(1000)).rejects.toThrow("closed");
    expect(await fdCountSettlesAt(before)).toBe(before);

    // Closed while the device is absent: the path appearing later must not reopen it.
    const dir = mkdtempSync(join(tmpdir(), "skynode-serial-"));
    const absent = serialPort({ path: join(dir, "a"), baudRate: 115200 });
    const waiting = absent.whenConnected().then(
      () => null,
      (e: unknown) => e as Error,
    );
    await absent.close();
    expect((await waiting)?.message).toContain("closed before it connected");
    const connections: boolean[] = [];
    absent.connection.on((up) => connections.push(up));
    await ptyPair(dir);
    await Bun.sleep(150); // several retry periods: asserting that nothing happens
    expect(absent.connected).toBe(false);
    expect(connections).toEqual([]);
  });

  test("round-trip latency of a 4-byte frame (reported, not asserted)", async () => {
    const pair = await ptyPair();
    const [a, b] = await connectedPorts(pair);
    b.data.on((chunk) => b.write(chunk)); // echo
    const frame = text(":GP#");
    const samples: number[] = [];
    for (let i = 0; i < 1050; i++) {
      const t0 = performance.now();
      const got = receive(a, frame.length);
      a.write(frame);
      await got;
      if (i >= 50) samples.push(performance.now() - t0); // first 50 warm up
    }
    samples.sort((x, y) => x - y);
    const median = samples[Math.floor(samples.length / 2)]!;
    const p99 = samples[Math.floor(samples.length * 0.99)]!;
    const n = samples.length;
    console.log(`serial pty round trip, 4 bytes, n=${n}: median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
    expect(samples.length).toBe(1000);
  });
});
