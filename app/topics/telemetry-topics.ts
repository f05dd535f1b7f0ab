import type { EventKey } from "../hub/fanout";
import type { TopicHub } from "./topic-hub";

/** The primary API's telemetry as seed 003 topics (docs/messaging.md): a dashboard written for `/wss` reads the
 * telescope and device snapshots and the telescope log without speaking the primary protocol. */
export function telemetryTopics(topics: TopicHub): (key: EventKey, kind: string, body: object) => void {
  return (key, kind, body) => {
    const b = body as { snapshot?: Record<string, unknown>; entry?: { level?: unknown } };
    if (kind === "event_telescope_snapshot") {
      topics.publishFromServer(`telescope_snapshot/${key.telescope_uid}`, { name: "telescope_snapshot", type: "snapshot", data: b.snapshot }, { retain: true });
    } else if (kind === "event_device_snapshot" && key.device_uid) {
      const type = typeof b.snapshot?.device_type === "string" ? b.snapshot.device_type : "device";
      topics.publishFromServer(`device_snapshot/${key.telescope_uid}/${key.device_uid}`, { name: "device_snapshot", type, data: b.snapshot }, { retain: true });
    } else if (kind === "event_telescope_log") {
      const type = typeof b.entry?.level === "string" ? b.entry.level : "log";
      topics.publishFromServer(`telescope_log/${key.telescope_uid}`, { name: "telescope_log", type, data: b.entry });
    }
  };
}
