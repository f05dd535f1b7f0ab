import pino, { type Logger } from "pino";

/** Structured logs as JSON lines on stderr; stdout carries only the CLI's own output ("listening on …", tokens). */
export function createLogger(level = process.env.SKYNODE_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { app: "skynode" } }, pino.destination({ fd: 2, sync: false }));
}
