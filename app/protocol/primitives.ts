import { z } from "zod";

/** Identifiers chosen by clients (subscription ids, command ids, request ids): bounded so a hostile frame cannot
 * make the hub hold or echo megabytes. */
export const ClientId = z.string().min(1).max(200);
export const Uid = z.string().min(1).max(200).regex(/^[A-Za-z0-9._:@-]+$/, "letters, digits and . _ : @ - only");

/** The fixed error-code enum of seed 000: clients dispatch on it without parsing `message`. */
export const ErrorCode = z.enum(["invalid", "forbidden", "not_found", "conflict", "internal"]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** Free-form structured data (snapshots, result data, details): a JSON object. */
export const JsonObject = z.record(z.string(), z.unknown());

const finite = z.number().finite();

export const EquatorialTarget = z.strictObject({
  type: z.literal("equatorial"),
  ra_deg: finite.min(0).lt(360),
  dec_deg: finite.min(-90).max(90),
  epoch: z.literal("J2000").default("J2000"),
});
export const HorizontalTarget = z.strictObject({
  type: z.literal("horizontal"),
  alt_deg: finite.min(-90).max(90),
  az_deg: finite.min(0).lt(360),
});
export const SolarSystemTarget = z.strictObject({
  type: z.literal("solar_system"),
  body: z.enum(["Sun", "Moon", "Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto"]),
});
export const NamedTarget = z.strictObject({
  type: z.literal("named"),
  name: z.string().min(1).max(100),
});
/** Where to point (DESIGN.md §3). */
export const TargetPosition = z.discriminatedUnion("type", [EquatorialTarget, HorizontalTarget, SolarSystemTarget, NamedTarget]);
export type TargetPosition = z.infer<typeof TargetPosition>;

/** Token roles (DESIGN.md §2). */
export const RoleName = z.enum(["viewer", "operator", "owner", "skynode", "admin"]);

/** Who issued a command. Always filled by the server from the authenticated caller; a client-sent origin is ignored.
 * `role` is the caller's role there: an appliance federated to a hub applies the same lease rules to the hub's users
 * (kind `hub`, sub `upstream/NAME` on the appliance). */
export const Origin = z.strictObject({
  kind: z.enum(["user", "scheduler", "hub"]),
  sub: z.string().min(1).max(210),
  client: z.string().min(1).max(210),
  role: RoleName.optional(),
});
export type Origin = z.infer<typeof Origin>;
