import type { Logger } from "pino";
import type { Principal } from "../auth/principal";
import { CommandsInbound, StreamInbound } from "../protocol";
import type { Journal } from "../store/journal";
import type { Backplane } from "./backplane";
import { CommandHub, type CommandsMessage } from "./command-hub";
import { invalidFrame, oversize } from "./invalid-frame";
import { createConn, RequestError, sendError, sendJson, type Conn, type Endpoint, type HubSocket } from "./connection";
import { StreamHub, type StreamMessage } from "./stream-hub";

export interface HubOptions {
  journal: Journal;
  log: Logger;
  /** Inbound frames larger than this are answered with `invalid` (DESIGN.md §3). */
  maxFrameBytes: number;
  /** Bytes per direct_response_chunk the hub streams itself. */
  directChunkBytes: number;
  /** Hub role scaled out over several instances (redis-backplane.ts); absent in a single process. */
  backplane?: Backplane;
}

/** The mini-hub: owns the connections of both endpoints, parses and validates every inbound frame once, and
 * hands it to the endpoint's handler. A bad frame is answered with an `error`; it never closes the socket. */
export class Hub {
  readonly stream: StreamHub;
  readonly commands: CommandHub;
  private readonly conns = new Set<Conn>();
  private publishText: (topic: string, text: string) => void = () => {};

  constructor(private readonly opts: HubOptions) {
    const publish = (topic: string, text: string) => this.publishText(topic, text);
    const bp = opts.backplane ?? null;
    this.stream = new StreamHub(publish, bp ? (e) => bp.broadcast(e) : null);
    this.commands = new CommandHub(opts.journal, publish, (uid, seq, lease) => this.stream.publishLease(uid, seq, lease), opts.log, opts.directChunkBytes, bp);
    bp?.onEvent((e) => {
      if (e.t === "stream") this.stream.applyRemote(e);
      else if (e.t === "commands") this.commands.applyRemote(e);
      else this.commands.claimedElsewhere(e.uid);
    });
    bp?.onCall((req) => this.commands.answer(req));
  }

  /** Scaled out: take the other instances' latest snapshots, so this instance's first subscribers start from them. */
  async joinBackplane(): Promise<void> {
    for (const e of (await this.opts.backplane?.retained()) ?? []) if (e.t === "stream") this.stream.applyRemote(e);
  }

  /** Fan-out goes through the server's native topics once it is listening. */
  bindServer(server: { publish(topic: string, data: string): number }): void {
    this.publishText = (topic, text) => void server.publish(topic, text);
  }

  open(endpoint: Endpoint, principal: Principal, ws: HubSocket): Conn {
    const conn = createConn(endpoint, principal, ws);
    this.conns.add(conn);
    if (endpoint === "commands") this.commands.attach(conn);
    return conn;
  }

  close(conn: Conn): void {
    if (!conn.open) return;
    conn.open = false;
    this.conns.delete(conn);
    if (conn.endpoint === "stream") this.stream.close(conn);
    else this.commands.close(conn);
  }

  /** The sign-in sessions of account `name` have ended (changed or removed): their sockets are closed. */
  endSessions(name: string): void {
    for (const conn of [...this.conns]) {
      if (conn.principal.sub === name && conn.principal.account) conn.ws.close(4003, "this session has ended (the account was changed or removed): sign in again");
    }
  }

    get connectionCount(): number {
    return this.conns.size;
  }

  /** The socket's send buffer drained. */
  drain(conn: Conn): void {
    if (conn.endpoint === "commands") this.commands.direct.drained(conn);
  }

  frame(conn: Conn, data: string | Buffer): void {
    const max = this.opts.maxFrameBytes;
    const fromSkynode = conn.endpoint === "commands" && conn.principal.role === "skynode";
    if (typeof data !== "string") {
      if (!fromSkynode) return sendError(conn, undefined, "invalid", "binary frames are not accepted here: send JSON text frames");
      if (data.byteLength > max) return sendError(conn, undefined, "invalid", `frame of ${data.byteLength} bytes exceeds the ${max}-byte limit`);
      return this.guard(conn, undefined, "binary", () => this.commands.direct.binary(conn, data));
    }
    const bytes = oversize(data, max);
    if (bytes) return sendError(conn, undefined, "invalid", `frame of ${bytes} bytes exceeds the ${max}-byte limit`);
    // false: not a chunk in the spliceable layout, parse it; undefined: refused (and answered) already.
    if (fromSkynode && this.guard(conn, undefined, "direct_response_chunk", () => this.commands.direct.relayChunkText(conn, data)) !== false) return;
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      return sendError(conn, undefined, "invalid", "frame is not valid JSON");
    }
    const id = requestIdOf(raw);
    const parsed = (conn.endpoint === "stream" ? StreamInbound : CommandsInbound).safeParse(raw);
    if (!parsed.success) {
      const { message, issues } = invalidFrame(parsed.error);
      return sendError(conn, id, "invalid", message, { issues });
    }
    const msg = parsed.data;
    this.guard(conn, id, msg.kind, () => {
      if (msg.kind === "ping") return sendJson(conn, { kind: "pong", id: msg.id });
      if (msg.kind === "pong" || msg.kind === "ack") return;
      if (conn.endpoint === "stream") this.stream.handle(conn, msg as StreamMessage);
      else this.commands.handle(conn, msg as CommandsMessage);
    });
  }

  /** Runs a handler; what it throws answers the request with `error` (its code, or `internal`). */
  private guard<T>(conn: Conn, id: string | undefined, kind: string, handle: () => T): T | undefined {
    try {
      return handle();
    } catch (err) {
      if (err instanceof RequestError) return void sendError(conn, id, err.code, err.message, err.details);
      this.opts.log.error({ err, conn: conn.id, kind }, "request failed");
      sendError(conn, id, "internal", `internal error: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.commands.leases.stop();
    await this.opts.backplane?.stop();
  }
}

/** The id an answer echoes: the request's `id`, else the id the request is about (as acks do, DESIGN.md §3). */
function requestIdOf(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  for (const id of [r.id, r.command_id, r.subscription_id, r.request_id]) {
    if (typeof id === "string" && id.length > 0 && id.length <= 200) return id;
  }
  return undefined;
}
