import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Frame } from "../../hal/camera";
import { decodeFits, encodeFits, type FitsCard } from "../imaging/fits";
import { wcsCards } from "../imaging/wcs";
import type { ImageIndex, ImageRecord } from "../store/images";
import { describeError, storageFault } from "../store/storage-errors";
import type { WriteBehind } from "../store/write-behind";
import { CommandFailure } from "./command-failure";
import type { Pointing } from "./mount-control";
import type { Telescope } from "./telescope";

export interface ExposureContext {
  object: string | null;
  observer: string;
  filter_id: string | null;
  pointing: Pointing;
  focuser_um: number;
  rotator_deg: number;
  image_type: "Light Frame" | "Focus Frame";
}

export interface SavedImage {
  image_id: string;
  path: string;
  meta: Record<string, unknown>;
  /** false: the data disk refused the file (full, failing); the frame waits in memory and is written (and indexed)
   * as soon as it can be. */
  stored: boolean;
}

/** Frames kept in memory while the data disk refuses them; past this a new frame is an error instead (a board has
 * little memory, and new exposures are refused below `[store] min_free_mb` anyway). */
const MAX_UNSAVED_BYTES = 256 * 1024 * 1024;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** Files checked per turn of the event loop by the start-up check. */
const CHECK_BATCH = 200;
const MB = 1024 * 1024;

interface Unsaved {
  record: ImageRecord;
  dir: string;
  bytes: Uint8Array;
}

/** Writes each frame as a 16-bit FITS file with the standard observatory headers and a TAN WCS into the data dir,
 * then indexes it. The file is written under a temporary name and renamed, so a reader never sees half a file, and
 * the temporary file is removed when the write fails (and any left by a crash at start-up). A frame the disk
 * refuses (full, I/O error) is kept in memory and retried with backoff, and when any other write succeeds; its
 * index row is added once its file is there, so there is never a row without its file. */
export class ImageWriter {
  private readonly dir: string;
  /** The newest image stored (by a command or the automation), for the camera snapshot. */
  lastImageId: string | null = null;
  private readonly unsaved: Unsaved[] = [];
  private unsavedBytes = 0;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing = false;
  private closed = false;

  constructor(
    private readonly dataDir: string,
    private readonly telescope: Telescope,
    private readonly index: ImageIndex,
    private readonly writes: WriteBehind,
    private readonly log: Logger,
    /** An image's file and row are stored (image retention enforces its size cap then). */
    private readonly onStored: (record: ImageRecord) => void = () => {},
  ) {
    this.dir = join(dataDir, "images", telescope.uid);
    writes.addPending(() => this.unsaved.length);
    writes.onSuccess(() => this.retry());
  }

  save(frame: Frame, ctx: ExposureContext): SavedImage {
    const t = this.telescope;
    const cam = t.config.camera;
    const started = new Date(frame.started_at);
    const image_id = imageId(started);
    const day = started.toISOString().slice(0, 10);
    const dir = join(this.dir, day);
    const path = join(dir, `${image_id}.fits`);
    const scale = (206.264806 * cam.pixel_um * frame.binning) / cam.focal_length_mm;
    const p = ctx.pointing;
    const cards: FitsCard[] = [
      ["DATE-OBS", started.toISOString().slice(0, 23), "UTC start of exposure"],
      ["EXPTIME", frame.duration_s, "[s] exposure time"],
      ["EXPOSURE", frame.duration_s, "[s] exposure time"],
      ["IMAGETYP", ctx.image_type],
      ["OBJECT", ctx.object ?? "unknown"],
      ["TELESCOP", t.config.telescope.name],
      ["INSTRUME", "skynode simulated camera"],
      ["OBSERVER", ctx.observer],
      ["FILTER", ctx.filter_id ?? "none"],
      ["XBINNING", frame.binning],
      ["YBINNING", frame.binning],
      ["XPIXSZ", cam.pixel_um * frame.binning, "[um] binned pixel size"],
      ["YPIXSZ", cam.pixel_um * frame.binning, "[um] binned pixel size"],
      ["FOCALLEN", cam.focal_length_mm, "[mm]"],
      ["APTDIA", cam.aperture_mm, "[mm]"],
      ["CCD-TEMP", frame.temperature_c, "[C]"],
      ["GAIN", cam.gain_e_per_adu, "[e-/ADU]"],
      ["FOCUSPOS", ctx.focuser_um, "[um] focuser position"],
      ["ROTATANG", ctx.rotator_deg, "[deg] rotator angle"],
      ["SITELAT", t.site.latitude_deg, "[deg]"],
      ["SITELONG", t.site.longitude_deg, "[deg] east positive"],
      ["SITEELEV", t.site.elevation_m, "[m]"],
      ["RA", round(p.ra_deg, 6), "[deg] J2000 pointing"],
      ["DEC", round(p.dec_deg, 6), "[deg] J2000 pointing"],
      ["OBJCTRA", sexagesimal(p.ra_deg / 15, false)],
      ["OBJCTDEC", sexagesimal(p.dec_deg, true)],
      ["CENTALT", round(p.alt_deg, 4), "[deg]"],
      ["CENTAZ", round(p.az_deg, 4), "[deg]"],
      ["IMAGEID", image_id],
      ...wcsCards({ ra_deg: p.ra_deg, dec_deg: p.dec_deg, width: frame.width, height: frame.height, scale_arcsec_px: scale, rotation_deg: ctx.rotator_deg }),
    ];
    const bytes = encodeFits({ width: frame.width, height: frame.height, pixels: frame.pixels }, cards);
    const meta = {
      width: frame.width,
      height: frame.height,
      bitpix: 16,
      bytes: bytes.length,
      date_obs: started.toISOString(),
      duration_s: frame.duration_s,
      binning: frame.binning,
      filter_id: ctx.filter_id,
      object: ctx.object,
      ra_deg: round(p.ra_deg, 6),
      dec_deg: round(p.dec_deg, 6),
      alt_deg: round(p.alt_deg, 4),
      focuser_position_um: ctx.focuser_um,
      rotator_angle_deg: round(ctx.rotator_deg, 3),
      scale_arcsec_px: round(scale, 4),
      image_type: ctx.image_type,
    };
    const item: Unsaved = { record: { image_id, telescope_uid: t.uid, path, created_at: frame.started_at, meta }, dir, bytes };
    // Behind frames already waiting, a new one waits too: they reach the disk in the order they were taken.
    if (this.unsaved.length === 0) {
      const err = this.write(item);
      if (err === null) return { image_id, path, meta, stored: true };
      if (!storageFault(err)) throw new CommandFailure("internal", `could not store the image: ${describeError(err)}`);
      this.writes.noteFault("images", err);
    }
    if (this.unsavedBytes + bytes.length > MAX_UNSAVED_BYTES) {
      throw new CommandFailure(
        "conflict",
        `could not store the image: the data disk refuses writes (${this.writes.health().lastError}) and ${Math.round(this.unsavedBytes / MB)} MB of earlier frames already wait in memory for it`,
      );
    }
    this.unsaved.push(item);
    this.unsavedBytes += bytes.length;
    this.log.warn({ image_id, waiting: this.unsaved.length, error: this.writes.health().lastError }, "the data disk refused an image: kept in memory until it can be written");
    this.schedule();
    return { image_id, path, meta, stored: false };
  }

  /** Start-up: removes temporary files a crash left, indexes FITS files that have no row (a crash between the file
   * and its row landing, or between a retention's row delete and its file delete), and drops rows whose file is
   * gone. Batched, so a large archive does not hold the event loop. */
  async check(): Promise<void> {
    const root = join(this.dataDir, "images");
    const files: string[] = [];
    let parts = 0;
    for (const entry of existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }) : []) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      if (entry.name.endsWith(".part")) {
        rmSync(path, { force: true });
        parts++;
      } else if (entry.name.endsWith(".fits")) files.push(path);
    }
    if (parts > 0) this.log.warn({ removed: parts }, "removed temporary image files left by an interrupted write");
    const indexed = this.index.paths();
    const known = new Set(indexed.values());
    let reindexed = 0;
    for (let i = 0; i < files.length; i++) {
      const path = files[i]!;
      if (!known.has(path)) {
        const record = recoveredRecord(path, this.dataDir);
        if (record && !this.index.get(record.image_id)) {
          this.index.add(record);
          reindexed++;
        } else if (!record) this.log.warn({ path }, "a FITS file in the image store is not a SkyNode image: left alone");
      }
      if (i % CHECK_BATCH === CHECK_BATCH - 1) await new Promise((r) => setImmediate(r));
    }
    let dropped = 0;
    let n = 0;
    for (const [id, path] of indexed) {
      if (!existsSync(path)) {
        const record = this.index.get(id);
        if (record) this.index.remove(record);
        dropped++;
      }
      if (++n % CHECK_BATCH === 0) await new Promise((r) => setImmediate(r));
    }
    if (reindexed > 0) this.log.warn({ reindexed }, "indexed image files that had no index row (an interrupted write)");
    if (dropped > 0) this.log.warn({ dropped }, "removed index rows whose image file is gone");
  }

  /** Shutdown: one last try at the frames still waiting; returns how many are lost. */
  close(): number {
    clearTimeout(this.timer);
    this.retry();
    this.closed = true;
    const lost = this.unsaved.length;
    if (lost > 0) this.log.error({ lost, ids: this.unsaved.map((u) => u.record.image_id) }, "images the data disk refused until shutdown are lost");
    return lost;
  }

  /** Writes the file (temporary name, then rename) and indexes it: null, or the error (the temporary file removed). */
  private write(item: Unsaved): unknown {
    const { path } = item.record;
    const tmp = `${path}.part`;
    try {
      mkdirSync(item.dir, { recursive: true });
      writeFileSync(tmp, item.bytes);
      renameSync(tmp, path);
    } catch (err) {
      try {
        rmSync(tmp, { force: true });
      } catch (rmErr) {
        this.log.error({ err: rmErr, path: tmp }, "could not remove a temporary image file (removed at the next start)");
      }
      return err;
    }
    this.index.add(item.record);
    this.lastImageId = item.record.image_id;
    this.writes.noteSuccess("images");
    this.onStored(item.record);
    return null;
  }

  private retry(): void {
    if (this.writing || this.closed || this.unsaved.length === 0) return;
    this.writing = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      while (this.unsaved.length > 0) {
        const item = this.unsaved[0]!;
        const err = this.write(item);
        if (err !== null && storageFault(err)) {
          this.writes.noteFault("images", err);
          return this.schedule();
        }
        this.unsaved.shift();
        this.unsavedBytes -= item.bytes.length;
        if (err === null) this.log.info({ image_id: item.record.image_id, waiting: this.unsaved.length }, "stored an image that waited in memory");
        else this.log.error({ err, image_id: item.record.image_id }, "an image that waited in memory cannot be written: lost");
      }
      this.attempt = 0;
      this.writes.clearFault("images");
    } finally {
      this.writing = false;
    }
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(this.attempt++, 16));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retry();
    }, delay);
    this.timer.unref?.();
  }
}

/** The index row of a FITS file this writer made, rebuilt from its headers (what the row said, less what only the
 * writer knew); null for any other file. */
function recoveredRecord(path: string, dataDir: string): ImageRecord | null {
  let cards: Map<string, unknown>;
  let size: number;
  let width: number;
  let height: number;
  try {
    const bytes = readFileSync(path);
    const fits = decodeFits(bytes);
    ({ cards, width, height } = fits);
    size = bytes.length;
  } catch {
    return null;
  }
  const id = cards.get("IMAGEID");
  const dateObs = cards.get("DATE-OBS");
  const telescope = /images\/([^/]+)\//.exec(path.slice(dataDir.length))?.[1];
  if (typeof id !== "string" || typeof dateObs !== "string" || !telescope) return null;
  const created = Date.parse(`${dateObs}Z`);
  const num = (k: string) => (typeof cards.get(k) === "number" ? (cards.get(k) as number) : null);
  const str = (k: string, none: string) => (typeof cards.get(k) === "string" && cards.get(k) !== none ? (cards.get(k) as string) : null);
  return {
    image_id: id,
    telescope_uid: telescope,
    path,
    created_at: Number.isFinite(created) ? created : Date.now(),
    meta: {
      width,
      height,
      bitpix: 16,
      bytes: size,
      date_obs: new Date(Number.isFinite(created) ? created : Date.now()).toISOString(),
      duration_s: num("EXPTIME"),
      binning: num("XBINNING"),
      filter_id: str("FILTER", "none"),
      object: str("OBJECT", "unknown"),
      ra_deg: num("RA"),
      dec_deg: num("DEC"),
      alt_deg: num("CENTALT"),
      focuser_position_um: num("FOCUSPOS"),
      rotator_angle_deg: num("ROTATANG"),
      image_type: str("IMAGETYP", ""),
      recovered: true,
    },
  };
}

let counter = 0;
function imageId(started: Date): string {
  const stamp = started.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  counter = (counter + 1) % 0x10000;
  return `img-${stamp}-${counter.toString(16).padStart(4, "0")}${crypto.randomUUID().slice(0, 4)}`;
}

function sexagesimal(value: number, signed: boolean): string {
  const sign = value < 0 ? "-" : "+";
  let v = Math.abs(value);
  const a = Math.floor(v);
  v = (v - a) * 60;
  const b = Math.floor(v);
  const c = (v - b) * 60;
  const body = `${String(a).padStart(2, "0")} ${String(b).padStart(2, "0")} ${c.toFixed(2).padStart(5, "0")}`;
  return signed ? sign + body : body;
}
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
