import type { ErrorCode } from "../protocol";
import type { Principal } from "../auth/principal";
import type { DirectSender } from "../direct/sender";
import type { Topic } from "./fanout";

export type Endpoint = "stream" | "commands";

/** The part of Bun's ServerWebSocket the hub uses. */
export interface HubSocket {
  sendText(data: string): number;
  sendBinary(data: Uint8Array): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  cork<T>(callback: () => T): T;
  close(code?: number, reason?: string): void;
}

/** One authenticated WebSocket: who it is, which endpoint, and the subscriptions it holds (by subscription_id). */
export interface Conn {
  readonly id: string;
  readonly endpoint: Endpoint;
  readonly principal: Principal;
  readonly ws: HubSocket;
  readonly subscriptions: Map<string, Topic>;
  open: boolean;
  /** Direct responses this hub streams to the connection itself (made on its first local direct request). */
  direct?: DirectSender;
}

let nextConnId = 0;
export function createConn(endpoint: Endpoint, principal: Principal, ws: HubSocket): Conn {
  return { id: `c${++nextConnId}`, endpoint, principal, ws, subscriptions: new Map(), open: true };
}

export function sendJson(conn: Conn, message: object): void {
  if (conn.open) conn.ws.sendText(JSON.stringify(message));
}

export function sendError(conn: Conn, id: string | undefined, code: ErrorCode, message: string, details?: object): void {
  sendJson(conn, { kind: "error", id, code, message, details });
}

export function sendAck(conn: Conn, id: string | undefined, extra?: { command_id?: string; seq?: number }): void {
  sendJson(conn, { kind: "ack", id, ...extra });
}

/** An error a handler raises to answer the request with `error` `code` instead of `internal`. */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: object,
  ) {
    super(message);
  }
}
