import { writeSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { DeviceError } from "../errors";
import { type HalLog, silentLog } from "../log";
import { Signal } from "../signal";
import type { ByteDuplex } from "./duplex";
import { SharedWire } from "./wire";
import { flushInput } from "./termios";

export interface SerialOptions {
  /** e.g. /dev/serial/by-id/usb-…; a symlink is resolved at every (re)open. */
  path: string;
  baudRate: number;
  /** Default 8N1. */
  dataBits?: 5 | 6 | 7 | 8;
  parity?: "none" | "even" | "odd";
  stopBits?: 1 | 2;
  /** Retry period while the device is absent (default 1000). */
  reopenMs?: number;
  /** For messages, e.g. "mount serial port". */
  name?: string;
  log?: HalLog;
}

/** What the native open takes (see @serialport/bindings-cpp dist/linux.js and src/serialport_unix.cpp). */
interface NativeOpenOptions {
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  stopBits: 1 | 2;
  parity: "none" | "even" | "odd";
  rtscts: boolean;
  xon: boolean;
  xoff: boolean;
  xany: boolean;
  hupcl: boolean;
  lock: boolean;
  vmin: number;
  vtime: number;
}

interface NativeSerial {
  asyncOpen(path: string, options: NativeOpenOptions): Promise<number>;
  asyncClose(fd: number): Promise<void>;
}

// Only the package's native functions: its port class polls through libuv, which panics under Bun. Loaded on first
// open so a configuration without serial devices never loads the addon.
let native: Promise<NativeSerial> | null = null;
function nativeSerial(): Promise<NativeSerial> {
  native ??= import("@serialport/bindings-cpp/dist/load-bindings").then((m) => m as unknown as NativeSerial);
  return native;
}

/** Reads on Bun's event loop from Bun's own dup of the fd, closed when the stream ends or is cancelled. */
function readerOf(fd: number) {
  return Bun.file(fd).stream().getReader();
}
type ByteReader = ReturnType<typeof readerOf>;
type ReadResult = Awaited<ReturnType<ByteReader["read"]>>;

/** How often bytes the OS could not take yet (EAGAIN) are offered again. */
const WRITE_RETRY_MS = 1;

/**
 * A serial device as a ByteDuplex that survives unplugging: while the device is absent it retries opening every
 * `reopenMs`, and reopens by itself when the path comes back. The native addon opens the tty and sets termios
 * (non-blocking, raw, exclusive flock); bytes are written with a synchronous write(2) and read through
 * `Bun.file(fd).stream()`, which polls on Bun's own event loop.
 */
export class SerialPort implements ByteDuplex {
  readonly connection = new Signal<boolean>();
  readonly data = new Signal<Uint8Array>();
  readonly wire = new SharedWire();
  private readonly name: string;
  private readonly log: HalLog;
  private readonly reopenMs: number;
  private readonly openOptions: NativeOpenOptions;
  private fd: number | null = null;
  private up = false;
  private closed = false;
  private reader: ByteReader | null = null;
  /** The read the loop awaits; null while a chunk is being delivered. */
  private inflight: Promise<ReadResult> | null = null;
  /** Set by discardInput when the stream may already hold bytes read before the flush. */
  private staleInput = false;
  private lossReason: string | null = null;
  /** Commands (or their rest, once `started`) the OS would not take yet, in order. */
  private readonly unsent: { bytes: Uint8Array; started: boolean }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private wakeUp: (() => void) | null = null;
  /** whenConnected() callers still waiting: called with null on connect, with an Error on close. */
  private readonly waiters = new Set<(err: Error | null) => void>();
  /** Why the last open failed, for whenConnected's timeout message. */
  private lastError: string | null = null;
  private readonly running: Promise<void>;

  constructor(private readonly options: SerialOptions) {
    this.name = options.name ?? "serial port";
    this.log = options.log ?? silentLog;
    this.reopenMs = options.reopenMs ?? 1000;
    this.openOptions = {
      baudRate: options.baudRate,
      dataBits: options.dataBits ?? 8,
      stopBits: options.stopBits ?? 1,
      parity: options.parity ?? "none",
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: true,
      // flock(LOCK_EX): a second opener of the same device is refused (and retries) instead of stealing bytes.
      lock: true,
      vmin: 1,
      vtime: 0,
    };
    this.running = this.keepOpen().catch((err: unknown) => {
      const what = describe(err);
      this.log.error({ path: options.path, err: what }, `${this.name} ${options.path}: serial port task failed`);
    });
  }

  get connected(): boolean {
    return this.up;
  }

  /** Resolves when connected (at once if already). Without a timeout it waits until connected or closed. */
  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.up) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`${this.name} ${this.options.path} is closed`));
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (err: Error | null) => {
        this.waiters.delete(settle);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(settle);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const last = this.lastError ? ` (last error: ${this.lastError})` : "";
          settle(new Error(`${this.name} ${this.options.path} did not connect within ${timeoutMs} ms${last}`));
        }, timeoutMs);
      }
    });
  }

  /** Also throws the wire guard's refusal (e.g. a DeviceError of kind "limit": a motion start into a tripped limit
   * switch), in which case nothing was written. */
  write(bytes: Uint8Array): void {
    const fd = this.fd;
    if (fd === null || !this.up) throw this.disconnected();
    if (this.unsent.length > 0) {
      // Bytes must leave in order: queue behind what the OS has not taken yet.
      this.wire.write(() => this.unsent.push({ bytes: bytes.slice(), started: false }), true, bytes);
      return;
    }
    const written = this.wire.write(() => this.writeNow(fd, bytes), true, bytes);
    if (written < bytes.length) {
      this.unsent.push({ bytes: bytes.slice(written), started: written > 0 });
      this.scheduleRetry();
    }
  }

  discardInput(): void {
    const fd = this.fd;
    if (fd === null || !this.up) return;
    try {
      flushInput(fd);
    } catch {
      // The tty is going away; the read loop notices and reports it.
      return;
    }
    // A read still pending has nothing buffered behind it. Otherwise (called while a chunk is being delivered, or a
    // finished read has not been consumed yet) the stream may hold bytes read before the flush: the read loop drops
    // whatever is already there, up to the next read that has to wait for the OS.
    if (this.inflight === null || Bun.peek.status(this.inflight) !== "pending") this.staleInput = true;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.wakeUp?.();
      const err = new Error(`${this.name} ${this.options.path} was closed before it connected`);
      for (const settle of [...this.waiters]) settle(err);
      void this.reader?.cancel().catch(() => {});
    }
    return this.running;
  }

  private async keepOpen(): Promise<void> {
    // Each distinct failure is reported once per absence, not at every retry.
    const reported = new Set<string>();
    while (!this.closed) {
      const opened = await this.tryOpen(reported);
      if (opened && !this.closed) {
        reported.clear();
        const reason = await this.serve(opened.fd, opened.device);
        if (reason !== null) {
          this.log.warn(
            { path: this.options.path, device: opened.device, reason },
            `${this.name} ${this.options.path} disconnected (${reason}); reopening every ${this.reopenMs} ms`,
          );
        }
      } else if (opened) {
        await closeQuietly(opened.fd);
      }
      // Wait even after a loss: the path of a device being unplugged may linger for a moment.
      if (!this.closed) await this.pause(this.reopenMs);
    }
  }

  private async tryOpen(reported: Set<string>): Promise<{ fd: number; device: string } | null> {
    const path = this.options.path;
    try {
      const device = await realpath(path);
      const fd = await (await nativeSerial()).asyncOpen(device, this.openOptions);
      return { fd, device };
    } catch (err) {
      const what = describe(err);
      this.lastError = what;
      const key = (err as NodeJS.ErrnoException).code ?? what;
      if (!reported.has(key)) {
        reported.add(key);
        this.log.warn(
          { path, err: what },
          `${this.name} ${path} cannot be opened (${what}); retrying every ${this.reopenMs} ms`,
        );
      }
      return null;
    }
  }

  /** Runs one connection until the device goes away or close() is called; returns why it was lost (null when
   * closed). The fd is closed and `connection` emitted false before it returns. */
  private async serve(fd: number, device: string): Promise<string | null> {
    const reader = readerOf(fd);
    this.fd = fd;
    this.wire.setFd(fd);
    this.reader = reader;
    this.lossReason = null;
    this.staleInput = false;
    this.up = true;
    this.lastError = null;
    for (const settle of [...this.waiters]) settle(null);
    this.log.info({ path: this.options.path, device }, `${this.name} ${this.options.path} connected (${device})`);
    this.emitSafely(this.connection, true);

    let reason: string | null = null;
    try {
      reason = await this.readUntilEnd(reader);
    } catch (err) {
      reason = describe(err);
    }
    this.up = false;
    this.reader = null;
    this.inflight = null;
    await reader.cancel().catch(() => {});
    if (this.closed) {
      try {
        this.flushUnsent(fd); // best effort: the last bytes written before close()
      } catch {}
    }
    this.unsent.length = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.fd = null;
    this.wire.setFd(-1);
    await closeQuietly(fd);
    this.emitSafely(this.connection, false);
    if (this.closed) return null;
    return this.lossReason ?? reason;
  }

  private async readUntilEnd(reader: ByteReader): Promise<string> {
    for (;;) {
      const next = reader.read();
      if (this.staleInput && Bun.peek.status(next) === "fulfilled") {
        const settled = Bun.peek(next) as ReadResult;
        if (!settled.done) continue; // already buffered when discardInput ran
      }
      this.staleInput = false;
      this.inflight = next;
      const result = await next;
      this.inflight = null;
      // A hung-up tty reads as end of file (a pty whose other side closed, an unplugged USB adapter).
      if (result.done) return "the tty hung up";
      if (this.staleInput) continue; // finished before discardInput ran, delivered after
      this.emitSafely(this.data, result.value);
    }
  }

  /** Writes until done or the OS would block; returns the number of bytes taken. */
  private writeNow(fd: number, bytes: Uint8Array): number {
    let offset = 0;
    while (offset < bytes.length) {
      try {
        const n = writeSync(fd, bytes, offset, bytes.length - offset);
        if (n === 0) break;
        offset += n;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") break;
        if (code === "EINTR") continue;
        this.lose(`write failed: ${describe(err)}`);
        throw this.disconnected();
      }
    }
    return offset;
  }

  private scheduleRetry(): void {
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      const fd = this.fd;
      if (fd === null || !this.up) return;
      try {
        this.flushUnsent(fd);
      } catch {
        return; // lose() has already been called
      }
      if (this.unsent.length > 0) this.scheduleRetry();
    }, WRITE_RETRY_MS);
  }

  private flushUnsent(fd: number): void {
    while (this.unsent.length > 0) {
      const head = this.unsent[0]!;
      let written: number;
      try {
        // Already counted when queued: under the lock, not counted again. A command not begun yet meets the guard
        // again: a latch may have tripped since it was queued (a limit reflex), and then it must not go out after
        // the stop. Its sender learns it from the missing reply (and the refusal of its retry).
        written = this.wire.write(() => this.writeNow(fd, head.bytes), false, head.started ? undefined : head.bytes);
      } catch (err) {
        if (!this.up) throw err;
        this.unsent.shift();
        this.log.warn({ path: this.options.path, err: describe(err) }, `${this.name}: a queued command was refused before it went out`);
        continue;
      }
      if (written < head.bytes.length) {
        this.unsent[0] = { bytes: head.bytes.subarray(written), started: head.started || written > 0 };
        return;
      }
      this.unsent.shift();
    }
  }

  /** The device failed under a write: stop reading so serve() tears the connection down. */
  private lose(reason: string): void {
    if (!this.up) return;
    this.up = false;
    this.lossReason = reason;
    void this.reader?.cancel().catch(() => {});
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = wake;
    }).finally(() => {
      this.wakeUp = null;
    });
  }

  private emitSafely<T>(signal: Signal<T>, value: T): void {
    try {
      signal.emit(value);
    } catch (err) {
      // A listener's bug must not take the port down with it.
      this.log.error({ path: this.options.path, err: describe(err) }, `${this.name}: a listener threw`);
    }
  }

  private disconnected(): DeviceError {
    return new DeviceError("disconnected", this.name, `${this.name} ${this.options.path} is disconnected`);
  }
}

async function closeQuietly(fd: number): Promise<void> {
  try {
    await (await nativeSerial()).asyncClose(fd);
  } catch {
    // Closing a descriptor of a vanished device may report an error; the descriptor is released all the same.
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
