import type { Logger } from "pino";
import type { Principal } from "../auth/principal";
import { CommandsInbound, StreamInbound } from "../protocol";
import type { Journal } from "../store/journal";
import type { Endpoint as WsEndpoint } from "../ws/endpoint";
import type { Backplane } from "./backplane";
import { CommandHub, type CommandsMessage } from "./command-hub";
import { createConn, errorFrame, RequestError, sendJson, type Conn, type Endpoint, type HubSocket } from "./connection";
import { StreamHub, type StreamMessage } from "./stream-hub";

export interface HubOptions {
  journal: Journal;
  log: Logger;
  /** Bytes per direct_response_chunk the hub streams itself. */
  directChunkBytes: number;
  /** Subscriptions one connection may hold, and direct requests it may have open. */
  maxSubscriptions: number;
  maxOpenDirectRequests: number;
  /** Hub role scaled out over several instances (redis-backplane.ts); absent in a single process. */
  backplane?: Backplane;
}

/** The mini-hub: the two /v1 endpoints (stream and commands) over the shared frame pipeline (app/ws), their
 * connections, and the stream and command hubs their messages go to. */
export class Hub {
  readonly stream: StreamHub;
  readonly commands: CommandHub;
  private readonly conns = new Set<Conn>();
  private publishText: (topic: string, text: string) => void = () => {};
  /** `/v1/ws/stream`: subscriptions, and a SkyNode's publishes. */
  readonly streamEndpoint: WsEndpoint<Conn, StreamInbound>;
  /** `/v1/ws/commands`: commands, results, cancels and direct requests; a SkyNode's direct responses, whose base64
   * chunks are relayed spliced (unparsed) and whose binary chunks come as binary frames. */
  readonly commandsEndpoint: WsEndpoint<Conn, CommandsInbound>;

  constructor(private readonly opts: HubOptions) {
    const publish = (topic: string, text: string) => this.publishText(topic, text);
    const bp = opts.backplane ?? null;
    this.stream = new StreamHub(publish, bp ? (e) => bp.broadcast(e) : null, opts.maxSubscriptions);
    this.commands = new CommandHub(
      opts.journal,
      publish,
      (uid, seq, lease) => this.stream.publishLease(uid, seq, lease),
      opts.log,
      { chunkBytes: opts.directChunkBytes, maxSubscriptions: opts.maxSubscriptions, maxOpenDirectRequests: opts.maxOpenDirectRequests },
      bp,
    );
    bp?.onEvent((e) => {
      if (e.t === "stream") this.stream.applyRemote(e);
      else if (e.t === "commands") this.commands.applyRemote(e);
      else this.commands.claimedElsewhere(e.uid);
    });
    bp?.onCall((req) => this.commands.answer(req));
    this.streamEndpoint = this.endpoint("stream", StreamInbound, (conn, msg) => this.stream.handle(conn, msg as StreamMessage));
    this.commandsEndpoint = {
      ...this.endpoint("commands", CommandsInbound, (conn, msg) => this.commands.handle(conn, msg as CommandsMessage)),
      binary: (conn, data) => {
        if (!isSkynode(conn)) throw new RequestError("invalid", "binary frames are not accepted here: send JSON text frames");
        this.commands.direct.binary(conn, data);
      },
      // false: not a chunk in the spliceable layout, parse it.
      raw: (conn, text) => isSkynode(conn) && this.commands.direct.relayChunkText(conn, text),
      drain: (conn) => {
        this.commands.direct.drained(conn);
        for (const w of conn.drainWaiters?.splice(0) ?? []) w();
      },
    };
  }

  /** Scaled out: take the other instances' latest snapshots, so this instance's first subscribers start from them. */
  async joinBackplane(): Promise<void> {
    for (const e of (await this.opts.backplane?.retained()) ?? []) if (e.t === "stream") this.stream.applyRemote(e);
  }

  /** Fan-out goes through the server's native topics once it is listening. */
  bindServer(server: { publish(topic: string, data: string): number }): void {
    this.publishText = (topic, text) => void server.publish(topic, text);
  }

  get connectionCount(): number {
    return this.conns.size;
  }


  async stop(): Promise<void> {
    this.commands.stop();
    await this.opts.backplane?.stop();
  }

  private endpoint<M extends { kind: string }>(
    name: Endpoint,
    schema: WsEndpoint<Conn, M>["schema"],
    handle: (conn: Conn, msg: M) => void | Promise<unknown>,
  ): WsEndpoint<Conn, M> {
    return {
      name: `/v1/ws/${name}`,
      schema,
      open: (principal: Principal, ws: HubSocket) => {
        const conn = createConn(name, principal, ws);
        this.conns.add(conn);
        if (name === "commands") this.commands.attach(conn);
        return conn;
      },
      handle: (conn, msg) => {
        if (msg.kind === "ping") return sendJson(conn, { kind: "pong", id: (msg as { id?: string }).id });
        if (msg.kind === "pong" || msg.kind === "ack") return;
        return handle(conn, msg);
      },
      close: (conn) => {
        if (!conn.open) return;
        conn.open = false;
        this.conns.delete(conn);
        for (const w of conn.drainWaiters?.splice(0) ?? []) w();
        if (conn.endpoint === "stream") this.stream.close(conn);
        else this.commands.close(conn);
      },
      error: (_conn, r) => errorFrame(r.id, r.code, r.message, r.details),
      idOf: requestIdOf,
      label: (msg) => msg.kind,
      drain: (conn) => {
        for (const w of conn.drainWaiters?.splice(0) ?? []) w();
      },
    };
  }
}

const isSkynode = (conn: Conn) => conn.endpoint === "commands" && conn.principal.role === "skynode";

/** The id an answer echoes: the request's `id`, else the id the request is about (as acks do, DESIGN.md §3). */
function requestIdOf(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  for (const id of [r.id, r.command_id, r.subscription_id, r.request_id]) {
    if (typeof id === "string" && id.length > 0 && id.length <= 200) return id;
  }
  return undefined;
}
