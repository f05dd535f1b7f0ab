import { z } from "zod";
import { ClientId, TargetPosition } from "./primitives";

/** REST `/v1/tasks`: the automated observing queue. A task is a target plus an exposure plan; the SkyNode runs the
 * queue in order whenever no manual lease is held and the constraints are satisfied. */
export const ExposurePlanStep = z.strictObject({
  filter_id: ClientId,
  duration_s: z.number().finite().min(0.001).max(86400),
  count: z.int().min(1).max(1000),
  binning: z.int().min(1).max(16).default(1),
});

/** Frames one task may plan in all: a task is a night's work, not an unbounded loop. */
export const MAX_TASK_FRAMES = 10_000;

export const TaskSpec = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  target: TargetPosition,
  exposures: z
    .array(ExposurePlanStep)
    .min(1)
    .max(100)
    .refine((steps) => steps.reduce((n, s) => n + s.count, 0) <= MAX_TASK_FRAMES, `a task plans at most ${MAX_TASK_FRAMES} frames in all (the sum of the counts)`)
    .describe(`The sum of the counts is at most ${MAX_TASK_FRAMES}.`),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

export const TaskState = z.enum(["queued", "running", "paused", "done", "failed", "canceled"]);
export type TaskState = z.infer<typeof TaskState>;

export const TaskProgress = z.object({
  exposures_done: z.int().min(0),
  exposures_total: z.int().min(0),
  /** Index into `exposures` and how many frames of that step are done. */
  step: z.int().min(0),
  step_done: z.int().min(0),
  image_ids: z.array(z.string()),
  /** Why the task is paused or failed. */
  message: z.string().optional(),
});
export type TaskProgress = z.infer<typeof TaskProgress>;

export const TaskRecord = z.object({
  task_id: z.string(),
  telescope_uid: z.string(),
  state: TaskState,
  spec: TaskSpec,
  progress: TaskProgress,
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;
