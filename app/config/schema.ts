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
      latitude_deg: z.number().min(-90).max(90).default(35.91),
      longitude_deg: z.number().min(-180).max(180).default(-79.05),
      elevation_m: z.number().min(-500).max(9000).default(150),
    })
    .prefault({}),
  telescope: z.strictObject({ uid: z.string().regex(/^[A-Za-z0-9._:@-]+$/).default("sim-1") }).prefault({}),
  mount: z
    .strictObject({ driver: z.enum(["sim", "synta"]).default("sim"), port: serial.port.optional(), baud: serial.baud })
    .prefault({}),
  focuser: z
    .strictObject({ driver: z.enum(["sim", "moonlite"]).default("sim"), port: serial.port.optional(), baud: serial.baud })
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
