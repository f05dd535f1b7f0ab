import { DeviceError } from "../errors";
import { type HalLog, silentLog } from "../log";
import type { ByteDuplex } from "../serial/duplex";
import { frame, ReplyParser, type ReplyShape, replyShape } from "./codec";

export interface MoonliteClientOptions {
  /** How long to wait for a reply (INDI's Moonlite driver waits 3 s). */
  timeoutMs?: number;
  /** How many times a query is sent again after a timeout before the device is declared faulty. */
  retries?: number;
  log?: HalLog;
  /** Names the device in errors and logs. */
  name?: string;
}

interface Job {
  command: string;
  shape: ReplyShape | null;
  resolve: (reply: string) => void;
  reject: (error: Error) => void;
  attempts: number;
}

/** The Moonlite command channel over a byte duplex. Replies carry no tag saying which command they answer, so
 * commands go out one at a time in FIFO order and a query holds the line until its reply (or timeout): that is the
 * only way to pair a reply with its command. A reply of the wrong shape is noise or a stale answer and is skipped. */
export class MoonliteClient {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly log: HalLog;
  private readonly name: string;
  private readonly parser = new ReplyParser();
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly link: ByteDuplex,
    opts: MoonliteClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.retries = opts.retries ?? 2;
    this.log = opts.log ?? silentLog;
    this.name = opts.name ?? "focuser";
    this.unsubscribe = [
      link.data.on((bytes) => this.receive(bytes)),
      link.connection.on((up) => {
        if (!up) this.failAll(this.disconnected());
      }),
    ];
  }

  get connected(): boolean {
    return !this.closed && this.link.connected;
  }

  /** Sends a command that has a reply (`GP`, `GI`, ...) and resolves with the reply text, without the `#`. */
  query(command: string): Promise<string> {
    const shape = replyShape(command);
    if (!shape) return Promise.reject(new Error(`:${command}# has no reply: use send()`));
    return this.enqueue(command, shape);
  }

  /** Sends a command that has no reply (`SN`, `FG`, `FQ`, ...); resolves once written, in order with queries. */
  async send(command: string): Promise<void> {
    // Its reply would be taken for the next query's.
    if (replyShape(command)) throw new Error(`:${command}# has a reply: use query()`);
    await this.enqueue(command, null);
  }

  /** Stops listening to the link and fails whatever is pending (the link itself belongs to the caller). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
    this.failAll(this.disconnected());
  }

  private enqueue(command: string, shape: ReplyShape | null): Promise<string> {
    if (!this.connected) return Promise.reject(this.disconnected());
    return new Promise((resolve, reject) => {
      this.queue.push({ command, shape, resolve, reject, attempts: 0 });
      this.pump();
    });
  }

  private pump(): void {
    while (!this.current) {
      const job = this.queue.shift();
      if (!job) return;
      if (job.shape) {
        this.parser.clear();
        this.current = job;
        this.transmit(job);
      } else if (this.write(job)) {
        job.resolve("");
      }
    }
  }

  private transmit(job: Job): void {
    job.attempts++;
    if (!this.write(job)) {
      this.current = null;
      return;
    }
    this.timer = setTimeout(() => this.timedOut(job), this.timeoutMs);
  }

  private write(job: Job): boolean {
    try {
      this.link.write(frame(job.command));
      return true;
    } catch (e) {
      job.reject(e instanceof Error ? e : new Error(String(e)));
      return false;
    }
  }

  private receive(bytes: Uint8Array): void {
    this.parser.push(bytes);
    for (;;) {
      const job = this.current;
      if (!job?.shape) {
        // Nothing asked: a late reply to a query that timed out. Keeping it would pair it with the next query.
        this.parser.clear();
        return;
      }
      const reply = job.shape.length ? this.parser.nextFixed(job.shape.length) : this.parser.next();
      if (reply === null) return;
      if (!job.shape.pattern.test(reply)) {
        this.log.warn({ device: this.name, command: job.command, reply }, "moonlite: skipped a reply of the wrong shape");
        continue;
      }
      clearTimeout(this.timer);
      this.current = null;
      job.resolve(reply);
      this.pump();
    }
  }

  private timedOut(job: Job): void {
    if (this.current !== job) return;
    // Whatever arrives from now on may be the late reply: drop what is buffered so it cannot be misread.
    this.link.discardInput();
    this.parser.clear();
    if (job.attempts <= this.retries) {
      this.log.warn({ device: this.name, command: job.command, attempt: job.attempts }, "moonlite: no reply, asking again");
      this.transmit(job);
      if (!this.current) this.pump();
      return;
    }
    this.current = null;
    job.reject(
      new DeviceError("fault", this.name, `${this.name} did not answer :${job.command}# (${job.attempts} attempts of ${this.timeoutMs} ms)`, {
        command: job.command,
        attempts: job.attempts,
      }),
    );
    this.pump();
  }

  private failAll(error: DeviceError): void {
    clearTimeout(this.timer);
    this.parser.clear();
    const jobs = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = null;
    for (const job of jobs) job.reject(error);
  }

  private disconnected(): DeviceError {
    return new DeviceError("disconnected", this.name, `${this.name} is disconnected`);
  }
}
