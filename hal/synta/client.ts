import { DeviceError } from "../errors";
import { silentLog, type HalLog } from "../log";
import type { Signal } from "../signal";
import type { ByteDuplex } from "../serial/duplex";
import { SharedWire } from "../serial/wire";
import { describeCommand, encodeCommand, errorName, expectedReplyLengths, ReplyParser, type ReplyEvent } from "./codec";
import { SyntaMotionGuard } from "./motion-guard";

/** The motor controller answered a command with `!code`: a real refusal, never retried. */
export class SyntaError extends DeviceError {
  constructor(
    device: string,
    readonly cmd: string,
    readonly axis: string,
    readonly code: string,
    readonly meaning: string,
  ) {
    super("fault", device, `the motor controller refused ${describeCommand(cmd, axis)} with error ${code || "(none)"}: ${meaning}`, {
      cmd,
      axis,
      code,
      meaning,
    });
    this.name = "SyntaError";
  }
}

/** No reply after every try: the board is off, or the line is broken while the port itself stays open. */
export class SyntaNoReply extends DeviceError {
  constructor(device: string, frame: string, tries: number) {
    super("fault", device, `no reply from the motor controller to ${frame} after ${tries} tries`, { command: frame, tries });
    this.name = "SyntaNoReply";
  }
}

/** A queued command whose `wanted()` turned false before it was written (its move was superseded or halted). */
export class SyntaCancelled extends Error {
  constructor(frame: string) {
    super(`${frame} was not sent: no longer wanted`);
    this.name = "SyntaCancelled";
  }
}

export interface SyntaClientOptions {
  /** How long to wait for each reply. */
  timeoutMs?: number;
  /** Tries in all before giving up on a command (INDI's 3). */
  retries?: number;
  log?: HalLog;
  /** Names the device in errors and logs. */
  name?: string;
}

export interface RequestOptions {
  /** Checked right before the command is written (and before each retry): false drops it unsent, rejecting with
   * SyntaCancelled. Lets a superseded motion sequence never reach the wire after a stop. */
  wanted?: () => boolean;
}

interface Job {
  cmd: string;
  axis: string;
  data: string;
  frame: string;
  tries: number;
  /** Its place on a shared line: the line's main-thread write count once it was written. */
  wireIndex: number;
  wanted?: () => boolean;
  resolve: (data: string) => void;
  reject: (err: Error) => void;
}

/** Request/reply over one link to a motor controller. Replies carry no ids, so they are matched in order: one
 * ordinary command is on the wire at a time, and urgent ones (an instant stop) jump the queue but queue their reply
 * behind those already awaited. */
export class SyntaClient {
  readonly name: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly log: HalLog;
  private readonly parser = new ReplyParser();
  private readonly queue: Job[] = [];
  /** Written, awaiting replies, in wire order. */
  private readonly inFlight: Job[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  /** Out-of-band commands on the shared line (a limit reflex's stop) whose reply has been accounted for. */
  private oobSeen: number;
  /** What the line's limit latches refuse (installed on the link's wire, if it has one); axes name themselves in it. */
  readonly motionGuard = new SyntaMotionGuard();

  constructor(
    readonly link: ByteDuplex,
    opts: SyntaClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.retries = Math.max(1, opts.retries ?? 3);
    this.log = opts.log ?? silentLog;
    this.name = opts.name ?? "mount motor controller";
    this.oobSeen = link.wire?.oobWrites() ?? 0;
    link.wire?.setGuard(this.motionGuard.admit);
    this.unsubscribe.push(
      link.data.on((chunk) => this.receive(chunk)),
      link.connection.on((up) => {
        this.motionGuard.reset();
        if (!up) this.failAll(() => this.disconnected());
      }),
    );
  }

  get connected(): boolean {
    return this.link.connected && !this.closed;
  }

  get connection(): Signal<boolean> {
    return this.link.connection;
  }

  /** Sends `:cmd axis data\r` after the commands before it and resolves with the reply's data. Rejects, unsent, with
   * the line's refusal (a DeviceError of kind "limit") if it would start motion into a tripped limit switch. */
  request(cmd: string, axis: string, data = "", opts: RequestOptions = {}): Promise<string> {
    if (!this.connected) return Promise.reject(this.disconnected());
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, axis, data, frame: describeCommand(cmd, axis, data), tries: 0, wireIndex: 0, wanted: opts.wanted, resolve, reject });
      this.pump();
    });
  }

  /** Writes the command now, ahead of anything queued and even while another command awaits its reply (its reply is
   * expected after those). Throws a DeviceError at once if the link is down. */
  urgent(cmd: string, axis: string, data = ""): Promise<string> {
    if (!this.connected) throw this.disconnected();
    const job: Job = { cmd, axis, data, frame: describeCommand(cmd, axis, data), tries: 1, wireIndex: 0, resolve: () => {}, reject: () => {} };
    const reply = new Promise<string>((resolve, reject) => {
      job.resolve = resolve;
      job.reject = reject;
    });
    this.link.write(encodeCommand(cmd, axis, data));
    job.wireIndex = this.link.wire?.mainWrites() ?? 0;
    this.inFlight.push(job);
    if (this.inFlight.length === 1) this.armTimer();
    return reply;
  }

  /** Rejects everything outstanding and stops listening to the link (which stays open: its owner closes it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribe) u();
    this.link.wire?.setGuard(null);
    this.failAll(() => new DeviceError("disconnected", this.name, `${this.name}: driver closed`));
  }

  private pump(): void {
    while (this.inFlight.length === 0 && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.send(job);
    }
  }

  /** Writes a job (first try or retry); false if it was dropped instead. */
  private send(job: Job): boolean {
    if (job.wanted && !job.wanted()) {
      job.reject(new SyntaCancelled(job.frame));
      return false;
    }
    try {
      this.link.write(encodeCommand(job.cmd, job.axis, job.data));
    } catch (err) {
      job.reject(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
    job.tries++;
    job.wireIndex = this.link.wire?.mainWrites() ?? 0;
    this.inFlight.push(job);
    if (this.inFlight.length === 1) this.armTimer();
    return true;
  }

  private receive(chunk: Uint8Array): void {
    for (const ev of this.parser.feed(chunk)) this.handle(ev);
  }

  private handle(ev: ReplyEvent): void {
    if (ev.kind === "garbage") {
      this.log.warn({ device: this.name, bytes: ev.text }, "garbage from the motor controller ignored");
      return;
    }
    if (this.answersOutOfBand()) return;
    const job = this.inFlight[0];
    if (!job) {
      this.log.warn({ device: this.name, reply: ev }, "reply from the motor controller with no command awaiting it: ignored");
      return;
    }
    if (ev.kind === "reply") {
      const lengths = expectedReplyLengths(job.cmd);
      if (lengths && !lengths.includes(ev.data.length)) {
        // A late reply to an earlier try (or to another command) would otherwise shift every later match by one.
        this.log.warn({ device: this.name, command: job.frame, reply: ev.data }, "reply of the wrong length for the awaited command: ignored");
        return;
      }
    }
    this.inFlight.shift();
    clearTimeout(this.timer);
    if (this.inFlight.length > 0) this.armTimer();
    if (ev.kind === "reply") job.resolve(ev.data);
    else job.reject(new SyntaError(this.name, job.cmd, job.axis, ev.code, errorName(ev.code)));
    this.pump();
  }

  /** Whether this reply belongs to a command another thread wrote on the line (wire.ts): the oldest one not yet
   * answered went out after `oobAfter` of our writes, so it answers first unless an awaited command preceded it. */
  private answersOutOfBand(): boolean {
    const wire = this.link.wire;
    if (!wire) return false;
    const written = wire.oobWrites();
    if (this.oobSeen >= written) return false;
    if (written - this.oobSeen > SharedWire.RING) {
      // A stop every few microseconds for long (a switch chattering without debounce): the oldest places are lost.
      this.log.warn({ device: this.name, lost: written - this.oobSeen - SharedWire.RING }, "out-of-band stops beyond count: their replies are matched by length only");
      this.oobSeen = written - SharedWire.RING;
    }
    const head = this.inFlight[0];
    if (head && head.wireIndex <= wire.oobAfter(this.oobSeen)) return false;
    this.oobSeen++;
    return true;
  }

  /** After a timeout or a drop the line is resynchronised: replies still owed to other threads' commands are
   * written off (one arriving late meets the length check like any stale reply). */
  private forgetOutOfBand(): void {
    this.oobSeen = this.link.wire?.oobWrites() ?? 0;
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.timeout(), this.timeoutMs);
  }

  /** The oldest command got no reply: drop whatever partial input there is and write again every command still
   * awaited, in order, so replies and commands line up again. */
  private timeout(): void {
    const head = this.inFlight[0];
    if (!head) return;
    this.log.warn({ device: this.name, command: head.frame, try: head.tries, of: this.retries }, "no reply from the motor controller");
    const resend = this.inFlight.splice(0);
    if (head.tries >= this.retries) {
      resend.shift();
      head.reject(new SyntaNoReply(this.name, head.frame, head.tries));
    }
    this.link.discardInput();
    this.parser.reset();
    this.forgetOutOfBand();
    if (!this.link.connected) return;
    for (const job of resend) this.send(job);
    this.pump();
  }

  private failAll(error: () => Error): void {
    clearTimeout(this.timer);
    this.parser.reset();
    this.forgetOutOfBand();
    for (const job of [...this.inFlight.splice(0), ...this.queue.splice(0)]) job.reject(error());
  }

  private disconnected(): DeviceError {
    return new DeviceError("disconnected", this.name, `${this.name} is disconnected`);
  }
}
