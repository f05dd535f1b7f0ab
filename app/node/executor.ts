import type { Logger } from "pino";
import { DeviceError, type DeviceErrorKind } from "../../hal/errors";
import type { Command, CommandRecord, CommandResult, CommandType, ErrorCode } from "../protocol";
import type { Outbox } from "../store/outbox";
import { CommandFailure, Interrupted } from "./command-failure";

/** A device's refusal is a state of the telescope (conflict) or a bad goal (invalid); its fault is internal. */
const DEVICE_ERROR_CODE: Record<DeviceErrorKind, ErrorCode> = { limit: "conflict", disconnected: "conflict", range: "invalid", fault: "internal" };

export type DeviceName = "mount" | "camera" | "filter_wheel" | "focuser" | "rotator";

/** What a handler gets: the command, its origin, and the means to be canceled cleanly. */
export interface RunContext {
  readonly id: string;
  readonly record: CommandRecord | null;
  readonly signal: AbortSignal;
  /** Registers how to stop one of this run's devices (by name: a run that exposes a hundred frames registers the
   * camera once); called on cancel, awaited before `canceled` is reported. */
  onStop(device: string, stop: () => Promise<void>): void;
  /** Throws `Interrupted` if the run has been canceled. */
  check(): void;
  readonly log: Logger;
}

type Cmd<T extends CommandType> = Extract<Command, { command_type: T }>;

export interface Handler<T extends CommandType = CommandType> {
  /** The devices the command needs for its whole run. */
  devices(cmd: Cmd<T>): DeviceName[];
  /** A new command of this kind cancels whatever holds its devices (documented per device) instead of `conflict`. */
  supersedes?: boolean;
  /** Semantic validation against the configured limits, before anything moves: throws CommandFailure. */
  validate?(cmd: Cmd<T>, record: CommandRecord): void;
  run(cmd: Cmd<T>, ctx: RunContext): Promise<Record<string, unknown>>;
}
export type Handlers = { [T in CommandType]: Handler<T> };

export class Run {
  readonly controller = new AbortController();
  private readonly stops = new Map<string, () => Promise<void>>();
  private stopping: Promise<void> | null = null;
  canceled: { reason: string; superseded_by?: string } | null = null;

  constructor(
    readonly id: string,
    readonly label: string,
    readonly devices: DeviceName[],
    readonly record: CommandRecord | null,
  ) {}

  context(log: Logger): RunContext {
    return {
      id: this.id,
      record: this.record,
      signal: this.controller.signal,
      onStop: (device, stop) => void this.stops.set(device, stop),
      check: () => {
        if (this.canceled) throw new Interrupted(this.canceled.reason);
      },
      log,
    };
  }

  /** Stops the run's devices; resolves once they are all really still. */
  cancel(reason: string, superseded_by?: string): Promise<void> {
    if (!this.canceled) this.canceled = { reason, superseded_by };
    if (!this.stopping) {
      this.controller.abort(reason);
      this.stopping = Promise.all([...this.stops.values()].map((s) => s().catch(() => {}))).then(() => {});
    }
    return this.stopping;
  }

  /** Resolves when every stop registered so far has finished (immediately when none ran). */
  stopped(): Promise<void> {
    return this.stopping ?? Promise.resolve();
  }
}

/** Runs commands on the telescope: validates them, claims their devices (refusing or superseding whatever holds
 * them), executes, and reports exactly one result per command, through the outbox. The automation claims devices
 * through the same book, so manual commands and tasks never drive one device at once. */
export class Executor {
  private readonly claims = new Map<DeviceName, Run>();
  private readonly runs = new Map<string, Run>();

  constructor(
    private readonly handlers: Handlers,
    private readonly report: (result: CommandResult) => void,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {
    // Commands that were running when the process stopped cannot be resumed safely (a slew minutes old):
    // report them as interrupted; results not yet acknowledged are resent by the hub link.
    for (const e of outbox.entries()) {
      if (e.state === "running") {
        this.report({
          command_id: e.command_id,
          status: "error",
          error: { code: "internal", message: "interrupted: the SkyNode restarted while this command was running" },
        });
      }
    }
  }

  /** Which run holds a device, if any. */
  holder(device: DeviceName): Run | undefined {
    return this.claims.get(device);
  }

  running(): Run[] {
    return [...this.runs.values()];
  }

  submit(record: CommandRecord): void {
    const id = record.command_id;
    if (this.runs.has(id)) return; // redelivered after a reconnect while still running
    const previous = this.outbox.lookup(id);
    if (previous?.state === "done" && previous.result) return this.report(previous.result);
    this.outbox.running(id);
    // execute() turns every failure of the command into its result; what escapes is a bug in reporting it.
    this.execute(record).catch((err) => this.log.error({ err, command_id: id }, "command result could not be reported"));
  }

  cancel(commandId: string, reason = "canceled on request"): void {
    const run = this.runs.get(commandId);
    if (run) run.cancel(reason).catch((err) => this.log.error({ err, command_id: commandId }, "cancel failed"));
  }

  /** Claims devices for a run that is not a command (the automation); same conflict rules as commands. */
  async claim(id: string, label: string, devices: DeviceName[], supersede = false): Promise<Run> {
    const run = new Run(id, label, devices, null);
    await this.take(run, supersede);
    return run;
  }

  release(run: Run): void {
    for (const d of run.devices) if (this.claims.get(d) === run) this.claims.delete(d);
    this.runs.delete(run.id);
  }

  /** Stops everything in motion (abort of a lease, shutdown): every run canceled, resolves once all are still. */
  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.cancel(reason)));
  }

  private async take(run: Run, supersede: boolean): Promise<void> {
    const holders = new Set(run.devices.map((d) => this.claims.get(d)).filter((r): r is Run => r !== undefined));
    for (const h of holders) {
      if (!supersede) {
        const busy = run.devices.filter((d) => this.claims.get(d) === h);
        throw new CommandFailure("conflict", `${busy.join(", ")} busy with ${h.label} (${h.id}): wait for it or cancel it`, {
          busy_with: h.id,
          devices: busy,
        });
      }
    }
    this.runs.set(run.id, run);
    for (const d of run.devices) this.claims.set(d, run);
    // Superseding: the earlier runs stop (and report canceled) before the new one moves anything.
    await Promise.all([...holders].map((h) => h.cancel(`superseded by ${run.id}`, run.id)));
  }

  private async execute(record: CommandRecord): Promise<void> {
    const { command } = record;
    const handler = this.handlers[command.command_type] as Handler;
    const log = this.log.child({ command_id: record.command_id, command_type: command.command_type });
    const run = new Run(record.command_id, command.command_type, handler.devices(command), record);
    let result: CommandResult;
    try {
      handler.validate?.(command, record);
      await this.take(run, handler.supersedes ?? false);
      const ctx = run.context(log);
      ctx.check();
      const data = await handler.run(command, ctx);
      result = { command_id: record.command_id, status: "ok", data };
      log.info(`${command.command_type} done`);
    } catch (err) {
      result = await this.failure(run, err, log);
    } finally {
      this.release(run);
    }
    this.report(result);
  }

  private async failure(run: Run, err: unknown, log: Logger): Promise<CommandResult> {
    const command_id = run.id;
    if (run.canceled) {
      await run.stopped();
      log.info({ reason: run.canceled.reason }, "command canceled");
      return { command_id, status: "canceled", data: { ...run.canceled } };
    }
    if (err instanceof CommandFailure) {
      log.warn({ code: err.code }, err.message);
      return { command_id, status: "error", error: { code: err.code, message: err.message, details: err.details } };
    }
    if (err instanceof DeviceError) {
      const code = DEVICE_ERROR_CODE[err.kind];
      log.warn({ code, device: err.device, kind: err.kind }, err.message);
      return { command_id, status: "error", error: { code, message: err.message, details: { device: err.device, ...err.details } } };
    }
    if (err instanceof Interrupted) {
      log.warn(err.message);
      return { command_id, status: "error", error: { code: "conflict", message: err.message } };
    }
    log.error({ err }, "command failed");
    return { command_id, status: "error", error: { code: "internal", message: (err as Error).message ?? String(err) } };
  }
}
