/** Star-field frames rendered on a worker thread. A 1024×768 frame costs 10-40 ms of CPU, and the main thread runs
 * the hardware safety path (a tripped limit must stop the motor at once), so frames are never rendered there. */

import type { StarFieldOptions } from "./star-field";

export type RenderRequest = { id: number; opts: StarFieldOptions };
export type RenderReply = { id: number; pixels: Uint16Array<ArrayBuffer> } | { id: number; error: string };

export interface StarFieldThreadOptions {
  /** A worker script that answers RenderRequest with RenderReply; star-field.worker.ts unless a test says otherwise. */
  script?: URL;
  /** How long one frame may take before the thread counts as hung; by default 30 s plus 1 µs per pixel, far beyond
   * any real render even on a slow ARM board. */
  timeout_ms?: number;
}

type Job = {
  resolve: (pixels: Uint16Array) => void;
  reject: (err: Error) => void;
  pixels: number;
  timer: ReturnType<typeof setTimeout>;
};

/** One long-lived worker, started on first use, rendering frames in request order. It holds the process open only
 * while a frame is owed. If it fails, every frame owed rejects and the next render starts a fresh worker. */
export class StarFieldThread {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;

  constructor(private readonly options: StarFieldThreadOptions = {}) {}

  /** The same pixels as renderStarField(opts); rejects with an Error if the render fails or the thread dies. */
  render(opts: StarFieldOptions): Promise<Uint16Array> {
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = this.worker ?? this.start();
      } catch (err) {
        reject(new Error(`star-field render thread could not start: ${message(err)}`, { cause: err }));
        return;
      }
      const id = this.nextId++;
      const pixels = opts.width * opts.height;
      const limit_ms = this.options.timeout_ms ?? 30_000 + pixels / 1000;
      const timer = setTimeout(() => this.fail(worker, `did not answer within ${(limit_ms / 1000).toFixed(1)} s`), limit_ms);
      timer.unref();
      this.jobs.set(id, { resolve, reject, pixels, timer });
      worker.ref();
      try {
        worker.postMessage({ id, opts } satisfies RenderRequest);
      } catch (err) {
        this.settle(id)?.reject(new Error(`star-field render request could not be sent: ${message(err)}`, { cause: err }));
      }
    });
  }

  /** Stops the worker; frames still owed reject. A later render starts a new worker. */
  close(): void {
    if (this.worker) this.fail(this.worker, "was closed");
  }

  private start(): Worker {
    const worker = new Worker(this.options.script ?? workerScript());
    worker.unref();
    worker.onmessage = (event: MessageEvent<RenderReply>) => this.answered(event.data);
    worker.addEventListener("error", (event) => this.fail(worker, `failed: ${event.message.trim()}`));
    worker.addEventListener("messageerror", () => this.fail(worker, "sent a reply that could not be read"));
    worker.addEventListener("close", (event) => this.fail(worker, `exited (code ${event.code})`));
    this.worker = worker;
    return worker;
  }

  private answered(reply: RenderReply): void {
    const job = this.settle(reply.id);
    if (!job) return;
    if ("error" in reply) job.reject(new Error(`star-field render failed: ${reply.error}`));
    else if (!(reply.pixels instanceof Uint16Array) || reply.pixels.length !== job.pixels) {
      job.reject(new Error(`star-field render thread returned ${reply.pixels?.length} pixels, expected ${job.pixels}`));
    } else job.resolve(reply.pixels);
  }

  /** The worker is unusable (crashed, hung, exited or closed): drop it and reject everything it owed. */
  private fail(worker: Worker, what: string): void {
    // Events from a worker already dropped (its close after terminate, say) concern no one any more.
    if (worker !== this.worker) return;
    this.worker = null;
    worker.terminate();
    const error = new Error(`star-field render thread ${what}`);
    for (const id of [...this.jobs.keys()]) this.settle(id)?.reject(error);
  }

  private settle(id: number): Job | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    this.jobs.delete(id);
    clearTimeout(job.timer);
    // Idle again: the worker must not keep the process alive.
    if (this.jobs.size === 0) this.worker?.unref();
    return job;
  }
}

/** star-field.worker.ts, beside this module when run from source. In a `bun build --compile` binary every bundled
 * module's URL is the binary's own (file:///$bunfs/root/<name>) and an extra entrypoint keeps its path from the build
 * root, so the binary must be built with the worker as an entrypoint (`bun build --compile app/main.ts
 * hal/sim/star-field.worker.ts`), and the worker is found from the repository root. */
function workerScript(): URL {
  if (import.meta.url.startsWith("file:///$bunfs/")) return new URL("./hal/sim/star-field.worker.ts", import.meta.url);
  return new URL("./star-field.worker.ts", import.meta.url);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
