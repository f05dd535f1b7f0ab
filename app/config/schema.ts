import { z } from "zod";

/** The appliance's configuration (DESIGN.md §2). Every key is optional: the defaults give the simulated telescope.
 * Sections are strict so a misspelt key is an error that names it, never a silently ignored setting. */
const serial = {
  port: z.string().min(1),
  baud: z.int().positive().default(9600),
};

export const ConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.int().min(0).max(65535).default(5001),
      /** Extra origins (scheme://host[:port]) allowed for cookie-authenticated WebSocket upgrades, besides the served host. */
      allowed_origins: z.array(z.url()).default([]),
      /** Largest inbound frame answered normally; larger ones get an `invalid` error. */
      max_frame_bytes: z.int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    })
    .prefault({}),
  store: z
    .strictObject({
      /** How long a write waits for a lock held by another process before failing with `internal`. */
      busy_timeout_ms: z.int().min(0).max(60_000).default(5000),
    })
    .prefault({}),
  site: z
    .strictObject({
      // The simulator's default site (60°N): M31, the demo target, stays above the horizon limit all day and night.
      // A real telescope sets its own.
      latitude_deg: z.number().min(-90).max(90).default(60),
      longitude_deg: z.number().min(-180).max(180).default(10.75),
      elevation_m: z.number().min(-500).max(9000).default(100),
    })
    .prefault({}),
  telescope: z
    .strictObject({
      uid: z.string().regex(/^[A-Za-z0-9._:@-]+$/).default("sim-1"),
      name: z.string().min(1).max(200).default("Simulated telescope"),
      observatory_uid: z.string().regex(/^[A-Za-z0-9._:@-]+$/).optional(),
      /** Longest manual-control lease granted (renewals included): the automation gets the telescope back. */
      max_lease_s: z.number().positive().max(86_400).default(14_400),
    })
    .prefault({}),
  mount: z
    .strictObject({
      driver: z.enum(["sim", "synta"]).default("sim"),
      port: serial.port.optional(),
      baud: serial.baud,
      /** Top axis speed and acceleration (the simulator moves at these; a real driver caps at them). */
      slew_rate_deg_s: z.number().positive().max(30).default(4),
      accel_deg_s2: z.number().positive().max(100).default(2),
      /** Lowest altitude the telescope may point at (and that automation observes down to). */
      horizon_deg: z.number().min(-10).max(80).default(10),
      /** Largest |hour angle| the equatorial mount may point or track to: 180 = none (a fork mount, the simulator's
       * default); a German equatorial mount sets its counterweight-up limit, typically 90-105. */
      ha_limit_deg: z.number().min(30).max(180).default(180),
    })
    .prefault({}),
  focuser: z
    .strictObject({
      driver: z.enum(["sim", "moonlite"]).default("sim"),
      port: serial.port.optional(),
      baud: serial.baud,
      min_um: z.number().min(0).default(0),
      max_um: z.number().positive().default(50_000),
      step_um: z.number().positive().default(5),
      speed_um_s: z.number().positive().default(800),
      accel_um_s2: z.number().positive().default(4000),
      /** Where the simulated focuser starts, and where the simulated optics are sharpest. */
      sim_position_um: z.number().min(0).default(24_700),
      sim_best_focus_um: z.number().min(0).default(25_000),
    })
    .prefault({}),
  rotator: z
    .strictObject({
      min_deg: z.number().min(-360).max(0).default(-180),
      max_deg: z.number().min(0).max(360).default(180),
      speed_deg_s: z.number().positive().max(90).default(5),
      accel_deg_s2: z.number().positive().default(10),
    })
    .prefault({}),
  camera: z
    .strictObject({
      width: z.int().min(16).max(16384).default(1024),
      height: z.int().min(16).max(16384).default(768),
      pixel_um: z.number().positive().default(3.76),
      binnings: z.array(z.int().min(1).max(16)).min(1).default([1, 2, 3, 4]),
      min_exposure_s: z.number().min(0).default(0.001),
      max_exposure_s: z.number().positive().default(3600),
      readout_s: z.number().min(0).default(1),
      focal_length_mm: z.number().positive().default(530),
      aperture_mm: z.number().positive().default(106),
      /** Simulated sky: seeing FWHM, sky background, read noise and gain. */
      sim_seeing_arcsec: z.number().positive().default(2.5),
      sim_sky_e_per_s: z.number().min(0).default(4),
      sim_read_noise_e: z.number().min(0).default(3.5),
      gain_e_per_adu: z.number().positive().default(1),
      bias_adu: z.int().min(0).max(10_000).default(500),
    })
    .prefault({}),
  filter_wheel: z
    .strictObject({
      seconds_per_slot: z.number().positive().max(60).default(0.6),
      /** The filters by slot; `id` is what commands name (filter_id, filter_wheel_position_id). */
      filters: z
        .array(z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._-]{1,40}$/), slot: z.int().min(1).max(32), throughput: z.number().min(0).max(1).default(1) }))
        .min(1)
        .default([
          { id: "L", slot: 1, throughput: 1 },
          { id: "R", slot: 2, throughput: 0.35 },
          { id: "G", slot: 3, throughput: 0.35 },
          { id: "B", slot: 4, throughput: 0.3 },
          { id: "Ha", slot: 5, throughput: 0.05 },
        ]),
    })
    .prefault({}),
  autofocus: z
    .strictObject({
      exposure_s: z.number().positive().max(600).default(2),
      binning: z.int().min(1).max(16).default(2),
      /** Samples in a sweep and their spacing, centred on the starting position. */
      steps: z.int().min(5).max(41).default(9),
      step_um: z.number().positive().default(100),
    })
    .prefault({}),
  constraints: z
    .strictObject({
      /** Automation observes only while the Sun is below this altitude (astronomical twilight: -12 or -18). */
      max_sun_alt_deg: z.number().min(-90).max(90).default(-12),
      /** Starting values of the simulated weather and roof inputs (changed at run time with PUT /v1/sim/inputs). */
      sim_weather_safe: z.boolean().default(true),
      sim_roof_open: z.boolean().default(true),
      /** How often constraints are re-evaluated. */
      interval_s: z.number().positive().max(600).default(5),
    })
    .prefault({}),
  limits: z
    .array(
      z.strictObject({
        axis: z.enum(["ra", "dec", "az", "alt"]),
        direction: z.enum(["positive", "negative"]),
        chip: z.string().min(1),
        line: z.int().min(0),
        active_low: z.boolean().default(false),
        debounce_us: z.int().min(0).default(0),
      }),
    )
    .default([]),
  upstream: z.strictObject({ url: z.url({ protocol: /^wss?$/ }), token: z.string().min(1) }).optional(),
  backplane: z.strictObject({ redis_url: z.url({ protocol: /^rediss?$/ }) }).optional(),
});
export type Config = z.infer<typeof ConfigSchema>;
