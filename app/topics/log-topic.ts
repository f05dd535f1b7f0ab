import { SERVER_LOGS } from "./topic-policy";
import type { TopicHub } from "./topic-hub";

/** Field names whose values never leave the server's own log file (pino records are redacted at any depth). */
const SECRET_KEYS = new Set(["setup_code", "token", "jwt", "api_key", "key", "password", "secret", "authorization", "cookie", "signing_key"]);

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/** A pino destination (one of its multistream outputs) that publishes each log line on the `server_logs` topic. Lines
 * written before the topic hub exists, or while nobody reads the topic, cost a length check. */
export class LogTopic {
  private topics: TopicHub | null = null;
  private relay = false;
  private instance: string | undefined;
  private publishing = false;

  /** `relay`: other hub instances read this instance's lines too (scaled-out hub; each line names its instance). */
  attach(topics: TopicHub, opts: { relay: boolean; instance?: string }): void {
    this.topics = topics;
    this.relay = opts.relay;
    this.instance = opts.instance;
  }

  write(line: string): void {
    const topics = this.topics;
    if (!topics || this.publishing || (!this.relay && !topics.hasSubscribers(SERVER_LOGS))) return;
    let record: Record<string, unknown>;
    try {
      record = redact(JSON.parse(line)) as Record<string, unknown>;
    } catch {
      return;
    }
    if (this.instance) record.instance = this.instance;
    const type = LEVELS[record.level as number] ?? String(record.level);
    // A line logged while publishing one (a failing socket, say) would recurse: it stays in the log file only.
    this.publishing = true;
    try {
      topics.publishFromServer(SERVER_LOGS, { name: "log", type, data: record }, { relay: this.relay });
    } finally {
      this.publishing = false;
    }
  }
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k.toLowerCase()) ? "[redacted]" : redact(v);
  return out;
}
