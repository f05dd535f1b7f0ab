import type { Camera, CameraInfo, CameraStatus, ExposureOutcome } from "../camera";
import { Signal } from "../signal";
import { fieldStars, gnomonicProject, magToFlux } from "./sky-field";
import type { StarFieldOptions } from "./star-field";
import { StarFieldThread } from "./star-field-thread";

/** What the simulated optics see, asked at the end of each exposure. The SkyNode supplies it (the camera does not
 * know the mount): pointing in J2000 degrees, field rotation, focuser position and filter throughput. */
export interface SkyScene {
  pointing(): { ra_deg: number; dec_deg: number; rotation_deg: number } | null;
  focuserPosition(): number;
  throughput(): number;
  /** Catalog stars in the field, added to the simulator's own faint field stars. */
  brightStars?(ra_deg: number, dec_deg: number, radius_deg: number): { ra_deg: number; dec_deg: number; mag: number }[];
}

export interface SimCameraOptions {
  width: number;
  height: number;
  pixel_um: number;
  binnings: number[];
  focal_length_mm: number;
  aperture_mm: number;
  seeing_arcsec: number;
  /** Focuser position (µm) where the simulated optics are sharpest. */
  best_focus_um: number;
  readout_s: number;
  sky_e_per_s: number;
  read_noise_e: number;
  gain_e_per_adu: number;
  bias_adu: number;
}

const RAD = Math.PI / 180;
const ARCSEC = RAD / 3600;
const FWHM_PER_SIGMA = 2 * Math.sqrt(2 * Math.log(2));

/** A simulated CCD: exposes for real time, reads out, and renders the star field where the mount points with a
 * PSF that widens with defocus (geometric blur = defocus / focal ratio) and flux scaled by the filter. The star list
 * is worked out here at readout; the pixels are rendered on a StarFieldThread, off the main thread. */
export class SimCamera implements Camera {
  readonly changed = new Signal<void>();
  readonly info: CameraInfo;
  private state: CameraStatus["state"] = "idle";
  private current: { started_at: number; duration_s: number; binning: number } | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private finishExposure: { resolve: (o: ExposureOutcome) => void; reject: (err: Error) => void } | null = null;
  private seed = 1;
  private aborting: Promise<void> | null = null;
  private readonly renderThread = new StarFieldThread();

  constructor(
    private readonly opts: SimCameraOptions,
    private readonly scene: SkyScene,
  ) {
    this.info = {
      width: opts.width,
      height: opts.height,
      pixel_um: opts.pixel_um,
      binnings: opts.binnings,
      gain_e_per_adu: opts.gain_e_per_adu,
      bias_adu: opts.bias_adu,
    };
  }

  status(): CameraStatus {
    return {
      state: this.state,
      started_at: this.current?.started_at ?? null,
      duration_s: this.current?.duration_s ?? null,
      binning: this.current?.binning ?? null,
      temperature_c: this.temperature(),
    };
  }

  expose(duration_s: number, binning: number): Promise<ExposureOutcome> {
    if (this.state !== "idle") return Promise.reject(new Error(`camera is ${this.state}`));
    if (!this.info.binnings.includes(binning)) return Promise.reject(new RangeError(`binning ${binning} is not supported`));
    this.current = { started_at: Date.now(), duration_s, binning };
    this.setState("exposing");
    return new Promise((resolve, reject) => {
      this.finishExposure = { resolve, reject };
      this.timer = setTimeout(() => {
        this.setState("reading");
        // Reading out a binned frame moves fewer pixels.
        this.timer = setTimeout(() => this.readOut(), (this.opts.readout_s * 1000) / (binning * binning));
      }, duration_s * 1000);
    });
  }

  abort(reason = "aborted"): Promise<void> {
    if (this.state === "idle") return Promise.resolve();
    // Every caller waits for the same shutter close.
    if (this.aborting) return this.aborting;
    clearTimeout(this.timer);
    this.setState("aborting");
    // Closing the shutter takes a moment; the exposure's promise settles once the camera is idle again.
    this.aborting = new Promise((resolve) => {
      this.timer = setTimeout(() => {
        this.aborting = null;
        this.done({ aborted: reason });
        resolve();
      }, 50);
    });
    return this.aborting;
  }

  /** Stops the render thread. An exposure still exposing or reading ends as aborted; one being aborted finishes its
   * abort. The camera stays usable: a later exposure starts a new thread. */
  close(): void {
    if (this.state === "exposing" || this.state === "reading") {
      clearTimeout(this.timer);
      this.done({ aborted: "camera closed" });
    }
    this.renderThread.close();
  }

  private readOut(): void {
    const exposure = this.current!;
    let opts: StarFieldOptions;
    try {
      opts = this.frameOptions(exposure.duration_s, exposure.binning);
    } catch (err) {
      this.done(new Error(`camera readout failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      return;
    }
    // An abort while the pixels are on their way leaves this exposure behind: its frame must then be dropped.
    const stillWanted = () => this.current === exposure && this.state === "reading";
    this.renderThread.render(opts).then(
      (pixels) => {
        if (!stillWanted()) return;
        const { width, height } = opts;
        const { started_at, duration_s, binning } = exposure;
        this.done({ frame: { width, height, binning, pixels, started_at, duration_s, temperature_c: this.temperature() } });
      },
      (err: Error) => {
        if (stillWanted()) this.done(new Error(`camera readout failed: ${err.message}`, { cause: err }));
      },
    );
  }

  /** Back to idle, settling the exposure's promise: with its outcome, or rejected if the readout failed. */
  private done(outcome: ExposureOutcome | Error): void {
    const finish = this.finishExposure;
    this.finishExposure = null;
    this.current = null;
    this.setState("idle");
    if (outcome instanceof Error) finish?.reject(outcome);
    else finish?.resolve(outcome);
  }

  /** What the sensor sees at readout: the stars where the mount points, placed and blurred as the optics would. */
  private frameOptions(duration_s: number, binning: number): StarFieldOptions {
    const o = this.opts;
    const width = Math.floor(o.width / binning);
    const height = Math.floor(o.height / binning);
    const scale = ((o.pixel_um * binning) / (o.focal_length_mm * 1000)) / 1; // radians per (binned) pixel
    const seeingSigma = (o.seeing_arcsec * ARCSEC) / FWHM_PER_SIGMA / scale;
    // Defocus spreads a star into a disc of diameter |Δ|/N; a Gaussian of the same half-flux radius stands in.
    const fRatio = o.focal_length_mm / o.aperture_mm;
    const blurDiameterPx = Math.abs(this.scene.focuserPosition() - o.best_focus_um) / fRatio / (o.pixel_um * binning);
    const defocusSigma = (blurDiameterPx / 2) * (Math.SQRT1_2 / 1.1774);
    const sigma_px = Math.sqrt(seeingSigma ** 2 + defocusSigma ** 2 + 0.5 ** 2);
    const pointing = this.scene.pointing();
    const stars: { x: number; y: number; flux: number }[] = [];
    if (pointing) {
      const throughput = this.scene.throughput();
      const radius = (Math.hypot(width, height) / 2) * scale / RAD;
      const sky = fieldStars(pointing.ra_deg, pointing.dec_deg, radius);
      const bright = this.scene.brightStars?.(pointing.ra_deg, pointing.dec_deg, radius) ?? [];
      const cos = Math.cos(pointing.rotation_deg * RAD);
      const sin = Math.sin(pointing.rotation_deg * RAD);
      const cx = (width - 1) / 2;
      const cy = (height - 1) / 2;
      // Collecting area relative to a 100 mm aperture, for which mag 0 gives ~1e8 e/s through a luminance filter.
      const aperture = (o.aperture_mm / 100) ** 2;
      for (const s of [...sky, ...bright]) {
        const t = gnomonicProject(pointing.ra_deg, pointing.dec_deg, s.ra_deg, s.dec_deg);
        if (!t) continue;
        // The inverse of the CD matrix of the WCS the SkyNode writes (CROTA2 convention): north up, east left at 0.
        const x = cx + (-cos * t.xi - sin * t.eta) / scale;
        const y = cy + (-sin * t.xi + cos * t.eta) / scale;
        if (x < -10 || y < -10 || x > width + 10 || y > height + 10) continue;
        stars.push({ x, y, flux: magToFlux(s.mag, duration_s, throughput * aperture) });
      }
    }
    return {
      width,
      height,
      stars,
      sigma_px,
      background_e: o.sky_e_per_s * duration_s * binning * binning,
      read_noise_e: o.read_noise_e,
      gain_e_per_adu: o.gain_e_per_adu,
      bias_adu: o.bias_adu,
      seed: this.seed++,
    };
  }

  private temperature(): number {
    return -10;
  }

  private setState(state: CameraStatus["state"]): void {
    this.state = state;
    this.changed.emit();
  }
}
