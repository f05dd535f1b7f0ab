import { z } from "zod";

/** The appliance's configuration (DESIGN.md §2). Every key is optional: the defaults give the simulated telescope.
 * Sections are strict so a misspelt key is an error that names it, never a silently ignored setting. */
/** A serial link to a motor controller. Without `port` the driver talks to its built-in device simulator over an
 * in-memory pipe, so the everyday (and test) path runs the real protocol code. */
const BAUDS = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400] as const;
const serial = {
  /** Prefer a stable /dev/serial/by-id/... path: ttyUSB numbers change with plug order. */
  port: z.string().min(1).optional(),
  baud: z
    .union(BAUDS.map((b) => z.literal(b)), { error: `not a standard baud rate: one of ${BAUDS.join(", ")}` })
    .default(9600),
  data_bits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)], { error: "one of 5, 6, 7, 8" }).default(8),
  parity: z.enum(["none", "even", "odd"]).default("none"),
  stop_bits: z.union([z.literal(1), z.literal(2)], { error: "1 or 2" }).default(1),
  /** How long to wait for a reply before retrying, and how many tries in all before the command fails. */
  timeout_ms: z.int().min(50).max(30_000).default(1000),
  retries: z.int().min(1).max(10).default(3),
  /** How often to try reopening the port while the device is absent (unplugged). */
  reopen_ms: z.int().min(50).max(60_000).default(1000),
};

/** A limit switch: a GPIO input bound to a mount axis and the direction it guards. */
const LimitSwitch = z
  .strictObject({
  /** Shown in snapshots and error messages, e.g. "ra-west"; defaults to "<axis>-<direction>". */
  name: z.string().regex(/^[A-Za-z0-9._+-]{1,40}$/).optional(),
  axis: z.enum(["ra", "dec"]),
  /** Which way the switch stops: "positive" refuses motion to larger axis angles while tripped. */
  direction: z.enum(["positive", "negative"]),
  /** The GPIO chip, by label (as `gpiodetect` shows it: "pinctrl-bcm2711" on a Pi 4, "pinctrl-rp1" on a Pi 5) or
   * by path (/dev/gpiochipN); labels are stable across kernels, chip numbers are not. Absent: a simulated chip,
   * whose switch closes at `sim_at_deg` on the simulated mount. "sim": that simulated chip named explicitly, which
   * is allowed with a real mount too (benchmarks drive its lines by software; nothing closes them by itself).
   * "sim-thread": a simulated chip whose edges go through the real reader thread, as a real chip's do (its reflexes,
   * its failures and restarts): for tests and benchmarks of that path without GPIO hardware. */
  chip: z.string().min(1).optional(),
  /** Line offset on the GPIO chip (the BCM GPIO number on a Raspberry Pi). */
  line: z.int().min(0).max(1023),
  /** A normally-closed switch to ground with a pull-up reads low when released: active_low = false there; a
   * normally-open switch to ground with a pull-up reads low when pressed: active_low = true. */
  active_low: z.boolean().default(true),
  bias: z.enum(["pull-up", "pull-down", "disabled", "as-is"]).default("pull-up"),
  /** The kernel reports an edge only after the level has been stable this long (contact bounce). */
  debounce_us: z.int().min(0).max(1_000_000).default(1000),
  /** Simulated chip only: the axis angle (degrees) at which the simulated switch closes. */
  sim_at_deg: z.number().min(-400).max(400).optional(),
  })
  .transform((l) => ({ ...l, name: l.name ?? `${l.axis}-${l.direction}` }));

/** Federation: this appliance as the SkyNode of a central hub (app/federation). */
export const UpstreamConfig = z.strictObject({
  url: z.url({ protocol: /^wss?$/ }),
  token: z.string().min(1),
  /** Reconnect backoff ceiling: attempts double from 0.25 s up to this, with jitter. */
  max_backoff_s: z.number().min(0.5).max(3600).default(30),
  /** Log lines kept for the hub while it is unreachable; past this the oldest are dropped (and counted). */
  max_queued_logs: z.int().min(100).max(10_000_000).default(100_000),
});

export const ConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.int().min(0).max(65535).default(5001),
      /** Extra origins (scheme://host[:port]) allowed for cookie-authenticated WebSocket upgrades, besides the served host. */
      allowed_origins: z.array(z.url()).default([]),
      /** Largest inbound frame answered normally; larger ones get an `invalid` error. */
      max_frame_bytes: z.int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      /** Bytes per `direct_response_chunk` sent to clients. A socket holds at most a few chunks in memory. */
      direct_chunk_bytes: z.int().min(4096).max(16 * 1024 * 1024).default(1024 * 1024),
      /** Deepest nesting of arrays and objects an inbound JSON frame may have; deeper frames are answered `invalid`. */
      max_json_depth: z.int().min(8).max(1024).default(64),
      /** Subscriptions one /v1/ws/stream or /v1/ws/commands connection may hold at once. */
      max_subscriptions: z.int().min(1).max(100_000).default(64),
      /** Direct requests one connection may have open (not yet finished) at once. */
      max_open_direct_requests: z.int().min(1).max(10_000).default(16),
      /** Inbound frames per second one connection may send (a burst of as many is allowed); beyond it frames are
       * refused, and a connection that keeps flooding is closed (1008). SkyNode connections are not limited. */
      max_frames_per_s: z.int().min(1).max(1_000_000).default(500),
    })
    .prefault({}),
  store: z
    .strictObject({
      /** How long a write waits for a lock held by another process before failing with `internal`. */
      busy_timeout_ms: z.int().min(0).max(60_000).default(5000),
      /** Below this much free space on the data dir's filesystem new exposures are refused (`conflict`). */
      min_free_mb: z.number().min(0).max(1_000_000).default(500),
      /** Journal entries (commands, results, lease events) older than this are deleted; 0 keeps them forever. */
      journal_keep_days: z.number().min(0).max(36_500).default(90),
    })
    .prefault({}),
  images: z
    .strictObject({
      /** Images older than this are deleted (file and index row together), oldest first; 0 keeps them forever. */
      keep_days: z.number().min(0).max(36_500).default(0),
      /** Past this many GB of stored images the oldest are deleted; 0 sets no cap (the free-space check still
       * refuses new exposures below [store] min_free_mb). */
      max_total_gb: z.number().min(0).max(1_000_000).default(0),
    })
    .prefault({}),
  automation: z
    .strictObject({
      /** Unfinished tasks (queued, running or paused) the queue may hold; adding more is refused (`conflict`). */
      max_queued_tasks: z.int().min(1).max(100_000).default(1000),
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
      /** "synta": the Sky-Watcher/Synta motor-controller protocol (a simulated board when no port is given);
       * "sim": the protocol-free analytic simulator. */
      driver: z.enum(["synta", "sim"]).default("synta"),
      ...serial,
      /** Axis directions: flip when the mount turns the wrong way (wiring, southern hemisphere). */
      ra_reverse: z.boolean().default(false),
      dec_reverse: z.boolean().default(false),
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
      /** "moonlite": the Moonlite protocol (a simulated focuser when no port is given); "sim": analytic simulator. */
      driver: z.enum(["moonlite", "sim"]).default("moonlite"),
      ...serial,
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
  /** Limit switches. The default pair guards the simulated hour-angle axis just inside its hard stops. */
  limits: z
    .array(LimitSwitch)
    .default([
      { name: "ra-east", axis: "ra", direction: "negative", line: 0, active_low: true, bias: "pull-up", debounce_us: 1000, sim_at_deg: -190 },
      { name: "ra-west", axis: "ra", direction: "positive", line: 1, active_low: true, bias: "pull-up", debounce_us: 1000, sim_at_deg: 190 },
    ])
    .superRefine((limits, ctx) => {
      const seen = new Map<string, number>();
      limits.forEach((l, i) => {
        for (const [key, value] of [["name", l.name], ["line", `${l.chip ?? "sim"} line ${l.line}`]] as const) {
          const k = `${key}:${value}`;
          if (seen.has(k)) ctx.addIssue({ code: "custom", path: [i, key], message: `${key} ${value} is already used by limits[${seen.get(k)}]` });
          else seen.set(k, i);
        }
      });
    }),
  upstream: UpstreamConfig.optional(),
  backplane: z
    .strictObject({
      redis_url: z.url({ protocol: /^rediss?$/ }),
      /** How long a telescope's routing entry outlives its instance's last refresh (a crashed instance's telescopes
       * become not_found after this). Refreshed every third of it. */
      route_ttl_ms: z.int().min(300).max(600_000).default(10_000),
      /** How long an instance waits for another to answer a routed command or cancel. */
      rpc_timeout_ms: z.int().min(100).max(60_000).default(5000),
    })
    .optional(),
  /** The topic API on /wss (seed 003) and group messaging on /v3/ws (seed 004): docs/messaging.md. */
  messaging: z
    .strictObject({
      /** A group member that sends no heartbeat for this long drops out of presence (seed 004: one hour). */
      presence_ttl_s: z.number().min(0.1).max(7 * 86400).default(3600),
      /** Topics one /wss connection may hold at once. */
      max_topic_subscriptions: z.int().min(1).max(100_000).default(256),
    })
    .prefault({}),
}).superRefine((c, ctx) => {
  // Simulated switches on a real mount would close at angles the real mount never reports: refuse the mix.
  c.limits.forEach((l, i) => {
    if (c.mount.port && !l.chip) {
      ctx.addIssue({
        code: "custom",
        path: ["limits", i, "chip"],
        message:
          "a real mount (mount.port) needs real limit switches: give each [[limits]] its GPIO chip, or put `limits = []` at the top of the file if the mount has none (the default switches are simulated)",
      });
    }
  });
});
export type Config = z.infer<typeof ConfigSchema>;
