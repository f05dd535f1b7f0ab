import { reachesTelescope, type Principal } from "../auth/principal";
import { RequestError } from "../ws/request-error";

/** Who may subscribe and publish to which `/wss` topic (docs/messaging.md). Each check throws `forbidden` with the
 * reason. */

export const SERVER_LOGS = "server_logs";

/** The server's telemetry topics, fed from the primary API's snapshots and logs. */
export const TELEMETRY_PREFIXES = ["telescope_snapshot/", "device_snapshot/", "telescope_log/"] as const;
/** Kept for the server's own future topics. */
const RESERVED_PREFIXES = ["server/", "server_logs/"];

export type TopicClass =
  | { kind: "server_logs" }
  | { kind: "telemetry"; telescope_uid: string }
  | { kind: "reserved" }
  | { kind: "user" };

export function classify(topic: string): TopicClass {
  if (topic === SERVER_LOGS) return { kind: "server_logs" };
  for (const prefix of TELEMETRY_PREFIXES) {
    if (topic.startsWith(prefix)) return { kind: "telemetry", telescope_uid: topic.slice(prefix.length).split("/")[0]! };
  }
  if (RESERVED_PREFIXES.some((p) => topic.startsWith(p))) return { kind: "reserved" };
  return { kind: "user" };
}

export function requireSubscribe(p: Principal, topic: string): TopicClass {
  const c = classify(topic);
  if (c.kind === "server_logs" && p.role !== "admin") throw new RequestError("forbidden", "only an admin may read server_logs");
  if (c.kind === "telemetry" && !reachesTelescope(p, c.telescope_uid)) {
    throw new RequestError("forbidden", `your token does not grant access to telescope ${c.telescope_uid}`);
  }
  return c;
}

const PUBLISHERS = new Set(["operator", "owner", "admin"]);

export function requirePublish(p: Principal, topic: string): void {
  const c = classify(topic);
  if (c.kind !== "user") throw new RequestError("forbidden", `${topic} is published by the server only`);
  if (!PUBLISHERS.has(p.role)) throw new RequestError("forbidden", `role ${p.role} may not publish: operator, owner or admin only`);
}
