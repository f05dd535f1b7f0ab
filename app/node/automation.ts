import type { Logger } from "pino";
import { resolveTarget, type Resolved } from "../astro/targets";
import type { TaskRecord, TaskSpec, TaskState } from "../protocol";
import { UNFINISHED, type TaskStore } from "../store/tasks";
import { Signal } from "../../hal/signal";
import { CommandFailure, Interrupted } from "./command-failure";
import type { Constraints } from "./constraints";
import type { Executor, Run } from "./executor";
import { expose, validateExposure } from "./handlers/camera";
import type { ImageWriter } from "./image-writer";
import type { LeaseKeeper } from "./lease-keeper";
import type { Telescope } from "./telescope";

/** Runs the task queue in order whenever no manual lease is held and the constraints hold: slews to the task's
 * target, tracks it, takes its exposure plan and stores every frame. A lease or unsafe conditions pause it (the
 * frame in progress is aborted and taken again on resume); progress is saved after every frame. */
export class Automation {
  readonly changed = new Signal<void>();
  private current: { task: TaskRecord; run: Run } | null = null;
  private busy = false;
  /** Off until the hub's lease state is known: after a restart a lease may still be held. */
  private enabled = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly t: Telescope,
    private readonly executor: Executor,
    private readonly tasks: TaskStore,
    private readonly writer: ImageWriter,
    private readonly leases: LeaseKeeper,
    private readonly constraints: Constraints,
    private readonly log: Logger,
    private readonly limits: {
      /** `[automation] max_queued_tasks`: unfinished tasks the queue holds at most. */
      maxQueuedTasks: number;
      /** Why there is no room on the data disk for new frames, or null. */
      diskShortage: () => string | null;
    },
  ) {}

  start(intervalMs: number): void {
    // A task left `running` by a restart is resumed from its saved progress.
    for (const task of this.tasks.list()) if (task.state === "running") this.tasks.save(task.task_id, "paused", { ...task.progress, message: "restarted" });
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.kick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  enable(): void {
    this.enabled = true;
    this.kick();
  }

  /** The task in progress (for the telescope snapshot), or null. */
  active(): { task_id: string; name: string | null; state: TaskState; progress: TaskRecord["progress"] } | null {
    const c = this.current;
    return c ? { task_id: c.task.task_id, name: c.task.spec.name ?? null, state: "running", progress: c.task.progress } : null;
  }

  /** The target automation wants next, for the constraint status. */
  nextTarget(): Resolved | null {
    const task = this.current?.task ?? this.next();
    if (!task) return null;
    const r = this.resolve(task.spec);
    return "error" in r ? null : r;
  }

  add(spec: TaskSpec): TaskRecord {
    this.validate(spec);
    const unfinished = this.tasks.unfinished();
    if (unfinished >= this.limits.maxQueuedTasks) {
      throw new CommandFailure(
        "conflict",
        `the task queue is full: ${unfinished} unfinished tasks (at most ${this.limits.maxQueuedTasks}: [automation] max_queued_tasks); delete some or wait for them to finish`,
        { unfinished, max_queued_tasks: this.limits.maxQueuedTasks },
      );
    }
    const task = this.tasks.add(spec);
    this.log.info({ task_id: task.task_id, name: spec.name }, "task queued");
    this.kick();
    return task;
  }

  list(): TaskRecord[] {
    return this.tasks.list().map((t) => (this.current?.task.task_id === t.task_id ? this.current.task : t));
  }

  get(taskId: string): TaskRecord | null {
    return this.current?.task.task_id === taskId ? this.current.task : this.tasks.get(taskId);
  }

  /** Removes a task; the running one is stopped first and kept as `canceled`. */
  async remove(taskId: string): Promise<TaskRecord | null> {
    const task = this.get(taskId);
    if (!task) return null;
    if (this.current?.task.task_id === taskId) {
      const c = this.current;
      await c.run.cancel("task deleted");
      this.tasks.save(taskId, "canceled", c.task.progress);
      return this.tasks.get(taskId);
    }
    this.tasks.remove(taskId);
    this.changed.emit();
    return task;
  }

  /** Stops the running task (lease acquired, conditions unsafe): its frame is aborted; it resumes later. */
  async pause(reason: string): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.log.info({ task_id: c.task.task_id, reason }, "automation paused");
    await c.run.cancel(reason);
  }

  kick(): void {
    if (this.busy) return;
    this.busy = true;
    this.step()
      .catch((err) => this.log.error({ err }, "automation step failed"))
      .finally(() => {
        this.busy = false;
      });
  }

  private validate(spec: TaskSpec): void {
    for (const e of spec.exposures) validateExposure(this.t, e);
    const r = this.resolve(spec);
    if ("error" in r) throw new CommandFailure("invalid", r.error);
  }

  // Limits are not checked here: a target below the horizon now is not an error for a queued task, it waits (the
  // constraint status says why).
  private resolve(spec: TaskSpec): Resolved | { error: string } {
    return resolveTarget(spec.target, new Date(), this.t.site);
  }

  private next(): TaskRecord | null {
    return this.tasks.list().find((t) => UNFINISHED.includes(t.state)) ?? null;
  }

  private async step(): Promise<void> {
    if (!this.enabled || this.current || this.leases.active()) return;
    const task = this.next();
    if (!task) return;
    const target = this.resolve(task.spec);
    if ("error" in target) return this.finish(task, "failed", target.error);
    const blocker = this.constraints.blockerFor(target) ?? this.limits.diskShortage();
    if (blocker) return this.hold(task, `waiting: ${blocker}`);
    let run: Run;
    try {
      run = await this.executor.claim(`task:${task.task_id}`, `task ${task.spec.name ?? task.task_id}`, ["mount", "camera", "filter_wheel"]);
    } catch {
      return this.hold(task, "waiting: devices busy with a manual command");
    }
    this.current = { task: { ...task, state: "running", progress: { ...task.progress, message: undefined } }, run };
    this.save();
    try {
      await this.execute(target, run);
      this.finish(this.current.task, "done");
    } catch (err) {
      const c = this.current!;
      if (run.canceled || err instanceof Interrupted) {
        await run.stopped();
        if (this.tasks.get(c.task.task_id)?.state !== "canceled") this.hold(c.task, `paused: ${run.canceled?.reason ?? (err as Error).message}`);
      } else {
        this.log.error({ err, task_id: c.task.task_id }, "task failed");
        this.finish(c.task, "failed", (err as Error).message);
      }
    } finally {
      this.executor.release(run);
      this.current = null;
      this.changed.emit();
    }
    // Straight on to the next task (or the rest of this one).
    setTimeout(() => this.kick(), 0);
  }

  private async execute(target: Resolved, run: Run): Promise<void> {
    const ctx = run.context(this.log);
    const c = this.current!;
    await this.t.mount.slew(target, c.task.spec.target, ctx.onStop);
    ctx.check();
    this.t.mount.startTracking(target, c.task.spec.target, null);
    const plan = c.task.spec.exposures;
    const p = c.task.progress;
    while (p.step < plan.length) {
      const e = plan[p.step]!;
      while (p.step_done < e.count) {
        ctx.check();
        const blocker = this.constraints.blockerFor(target) ?? this.limits.diskShortage();
        if (blocker) throw new Interrupted(blocker);
        const { frame, context } = await expose(this.t, { ...e, image_type: "Light Frame", observer: "scheduler" }, ctx);
        const saved = this.writer.save(frame, { ...context, object: c.task.spec.name ?? context.object });
        p.image_ids.push(saved.image_id);
        p.step_done++;
        p.exposures_done++;
        this.save();
      }
      p.step++;
      p.step_done = 0;
    }
  }

  private save(): void {
    const c = this.current;
    if (!c) return;
    this.tasks.save(c.task.task_id, c.task.state, c.task.progress);
    this.changed.emit();
  }

  private hold(task: TaskRecord, message: string): void {
    if (task.state === "paused" && task.progress.message === message) return;
    this.tasks.save(task.task_id, "paused", { ...task.progress, message });
    this.changed.emit();
  }

  private finish(task: TaskRecord, state: "done" | "failed", message?: string): void {
    this.tasks.save(task.task_id, state, { ...task.progress, ...(message ? { message } : {}) });
    this.log.info({ task_id: task.task_id, state, message }, `task ${state}`);
    this.changed.emit();
  }
}
