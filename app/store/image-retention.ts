import { rmSync } from "node:fs";
import type { Logger } from "pino";
import { bytesOf, type ImageCursor, type ImageIndex, type ImageRecord } from "./images";

const BATCH = 200;
const DAY_MS = 86_400_000;

/** `[images] keep_days` and `max_total_gb`: deletes the oldest images first, each file together with its index
 * row (the row's delete first, the file once that delete is in the database, so a crash between the two leaves a
 * file the start-up check re-indexes, never a row without its file). The newest image always stays, however large:
 * it is the one a command just answered with. 0 turns either rule off. */
export class ImageRetention {
  private running: Promise<number> | null = null;
  private again = false;

  constructor(
    private readonly index: ImageIndex,
    private readonly opts: { keepDays: number; maxTotalBytes: number; log: Logger },
  ) {}

  get enabled(): boolean {
    return this.opts.keepDays > 0 || this.opts.maxTotalBytes > 0;
  }

  /** One pass; resolves with how many images it deleted. A pass already running is joined, and another follows it
   * (an image stored meanwhile may be past the cap). */
  run(now = Date.now()): Promise<number> {
    if (!this.enabled) return Promise.resolve(0);
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass(now).finally(() => {
      this.running = null;
      if (!this.again) return;
      this.again = false;
      this.run().catch((err) => this.opts.log.error({ err }, "image retention pass failed"));
    });
    return this.running;
  }

  private async pass(now: number): Promise<number> {
    const { keepDays, maxTotalBytes } = this.opts;
    const cutoff = keepDays > 0 ? now - keepDays * DAY_MS : Number.MIN_SAFE_INTEGER;
    let { bytes, count } = this.index.totals();
    let cursor: ImageCursor | null = null;
    let deleted = 0;
    let freed = 0;
    const over = () => maxTotalBytes > 0 && bytes > maxTotalBytes;
    walk: while (count > 1) {
      const page: { images: ImageRecord[]; next: ImageCursor | null } = this.index.oldest(cursor, BATCH);
      for (const image of page.images) {
        if (count <= 1 || !(image.created_at < cutoff || over())) break walk;
        this.remove(image);
        bytes -= bytesOf(image);
        freed += bytesOf(image);
        count--;
        deleted++;
      }
      if (!page.next) break;
      cursor = page.next;
      await new Promise((r) => setImmediate(r));
    }
    if (deleted > 0) this.opts.log.info({ deleted, freed_bytes: freed, keep_days: keepDays, max_total_bytes: maxTotalBytes }, "image retention: oldest images deleted");
    return deleted;
  }

  private remove(image: ImageRecord): void {
    this.index.remove(image, () => {
      try {
        rmSync(image.path, { force: true });
      } catch (err) {
        // The row is gone; the start-up check indexes the file again (and retention then deletes it once more).
        this.opts.log.error({ err, image_id: image.image_id, path: image.path }, "image retention: could not delete the file");
      }
    });
  }
}
