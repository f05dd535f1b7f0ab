import type { Principal } from "../auth/principal";
import type { DirectSender } from "../direct/sender";
import type { ErrorCode } from "../protocol";
import type { WsSocket } from "../ws/socket";
import type { Topic } from "./fanout";

export { RequestError } from "../ws/request-error";

export type Endpoint = "stream" | "commands";

/** The socket as the hub uses it (app/ws/socket.ts). */
export type HubSocket = WsSocket;

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
  /** Called once when the socket's send buffer drains (a paced replay waiting for room). */
  drainWaiters?: (() => void)[];
  /** A `since_seq` replay is being sent (one at a time per connection). */
  replaying?: boolean;
}

let nextConnId = 0;
export function createConn(endpoint: Endpoint, principal: Principal, ws: HubSocket): Conn {
  return { id: `c${++nextConnId}`, endpoint, principal, ws, subscriptions: new Map(), open: true };
}

export function errorFrame(id: string | undefined, code: ErrorCode, message: string, details?: object): string {
  return JSON.stringify({ kind: "error", id, code, message, details });
}

export function sendJson(conn: Conn, message: object): void {
  if (conn.open) conn.ws.sendText(JSON.stringify(message));
}

export function sendError(conn: Conn, id: string | undefined, code: ErrorCode, message: string, details?: object): void {
  if (conn.open) conn.ws.sendText(errorFrame(id, code, message, details));
}

export function sendAck(conn: Conn, id: string | undefined, extra?: { command_id?: string; seq?: number }): void {
  sendJson(conn, { kind: "ack", id, ...extra });
}
