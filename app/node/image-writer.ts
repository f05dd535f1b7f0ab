import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Frame } from "../../hal/camera";
import { encodeFits, type FitsCard } from "../imaging/fits";
import { wcsCards } from "../imaging/wcs";
import type { ImageIndex } from "../store/images";
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

/** Writes each frame as a 16-bit FITS file with the standard observatory headers and a TAN WCS into the data dir,
 * then indexes it. The file is written under a temporary name and renamed, so a reader never sees half a file. */
export class ImageWriter {
  private readonly dir: string;
  /** The newest image saved (by a command or the automation), for the camera snapshot. */
  lastImageId: string | null = null;

  constructor(
    dataDir: string,
    private readonly telescope: Telescope,
    private readonly index: ImageIndex,
  ) {
    this.dir = join(dataDir, "images", telescope.uid);
  }

  save(frame: Frame, ctx: ExposureContext): { image_id: string; path: string; meta: Record<string, unknown> } {
    const t = this.telescope;
    const cam = t.config.camera;
    const started = new Date(frame.started_at);
    const image_id = imageId(started);
    const day = started.toISOString().slice(0, 10);
    const dir = join(this.dir, day);
    mkdirSync(dir, { recursive: true });
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
    const tmp = `${path}.part`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
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
    this.index.add({ image_id, telescope_uid: t.uid, path, created_at: frame.started_at, meta });
    this.lastImageId = image_id;
    return { image_id, path, meta };
  }
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
