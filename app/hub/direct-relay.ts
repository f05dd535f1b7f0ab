import type { Logger } from "pino";
import { DirectResponder } from "../direct/responder";
import { DirectSender } from "../direct/sender";
import type { CommandsInbound } from "../protocol";
import { RequestError, sendJson, type Conn } from "./connection";

type Request = Extract<CommandsInbound, { kind: "direct_request" }>;
type Response = Extract<CommandsInbound, { kind: `direct_${"response_start" | "response_chunk" | "response_end" | "error"}` }>;

/** Chunks a SkyNode may have in flight per relayed request before the hub grants more: enough to keep the link
 * busy, few enough that a slow requester holds the hub's memory for that request to a handful of chunks. */
export const RELAY_WINDOW = 8;

const CHUNK_HEAD = '{"kind":"direct_response_chunk","request_id":"';
const B64_FIELD = '","data_b64":"';

interface Route {
  readonly relayId: string;
  readonly requester: Conn;
  readonly requestId: string;
  readonly requestIdJson: string;
  readonly skynode: Conn;
  /** total_size once the start arrived; the bytes relayed must add up to it. */
  expected: number | null;
  relayed: number;
  /** Chunks the SkyNode may still send; below zero it ignored the window. */
  credit: number;
  /** Chunks relayed while the requester was backpressured: granted back when it drains. */
  owed: number;
}

let nextRelayId = 0;

/** Direct requests: answered in process when this server's own SkyNode registered a responder for the telescope;
 * otherwise forwarded to the telescope's SkyNode connection, whose response frames (base64 JSON or binary) are
 * relayed back without decoding the payload, only the request id swapped: the hub gives each forwarded request
 * its own id, since ids chosen by different clients may collide. Credits (`direct_credit`) pace the SkyNode to
 * the requester's speed. */
export class DirectRelay {
  private readonly routes = new Map<string, Route>();
  private readonly local = new Map<string, DirectResponder>();
  /** A SkyNode's binary chunk header, waiting for the binary frame that follows it. */
  private readonly awaitingBinary = new Map<Conn, { route: Route | null; size: number; seq: number }>();

  constructor(
    private readonly skynodeOf: (telescopeUid: string) => Conn | undefined,
    private readonly chunkBytes: number,
    private readonly log: Logger,
    /** Direct requests one connection may have open at once (answered in process or relayed). */
    private readonly maxOpen = Infinity,
  ) {}

  /** The built-in SkyNode answers its telescope's requests in process: straight from its files to the socket. */
  serveLocally(telescopeUid: string, responder: DirectResponder): void {
    this.local.set(telescopeUid, responder);
  }

  request(requester: Conn, msg: Request): void | Promise<void> {
    let open = requester.direct?.active ?? 0;
    for (const r of this.routes.values()) if (r.requester === requester) open++;
    if (open >= this.maxOpen) {
      return sendJson(requester, {
        kind: "direct_error",
        request_id: msg.request_id,
        code: "conflict",
        message: `${this.maxOpen} direct requests are already open on this connection: wait for one to end`,
        details: { max_open_direct_requests: this.maxOpen },
      });
    }
    const local = this.local.get(msg.telescope_uid);
    if (local) return local.serve(this.senderOf(requester), { ...msg, credit: undefined });
    const skynode = this.skynodeOf(msg.telescope_uid);
    if (!skynode) {
      return sendJson(requester, {
        kind: "direct_error",
        request_id: msg.request_id,
        code: "not_found",
        message: `telescope ${msg.telescope_uid} has no SkyNode connected`,
      });
    }
    for (const r of this.routes.values()) {
      if (r.requester === requester && r.requestId === msg.request_id) {
        throw new RequestError("conflict", `direct request ${msg.request_id} is already open on this connection`);
      }
    }
    const relayId = `r${++nextRelayId}`;
    this.routes.set(relayId, {
      relayId,
      requester,
      requestId: msg.request_id,
      requestIdJson: JSON.stringify(msg.request_id),
      skynode,
      expected: null,
      relayed: 0,
      credit: RELAY_WINDOW,
      owed: 0,
    });
    sendJson(skynode, { ...msg, id: undefined, request_id: relayId, credit: RELAY_WINDOW });
  }

  /** A parsed response frame from a SkyNode. */
  response(from: Conn, msg: Response): void {
    const known = this.routes.get(msg.request_id);
    // The binary frame after a header for a request already ended (failed, cancelled) must not count as stray.
    if (!known && msg.kind === "direct_response_chunk" && msg.size !== undefined && msg.data_b64 === undefined) {
      this.awaitingBinary.set(from, { route: null, size: msg.size, seq: 0 });
    }
    const route = this.routeFor(from, msg.request_id);
    switch (msg.kind) {
      case "direct_response_start":
        if (route.expected !== null) return this.fail(route, "the SkyNode started the response twice");
        route.expected = msg.total_size;
        return this.toRequester(route, { ...msg, request_id: route.requestId });
      case "direct_response_chunk":
        if (route.expected === null) return this.fail(route, "the SkyNode sent a chunk before the response start");
        if (msg.data_b64 !== undefined) {
          if (!this.take(route, Buffer.byteLength(msg.data_b64, "base64"))) return;
          return this.relayed(route, this.sendText(route, JSON.stringify({ ...msg, request_id: route.requestId })));
        }
        if (msg.size === undefined) return this.fail(route, "a chunk carries neither data_b64 nor a binary size");
        this.awaitingBinary.set(from, { route, size: msg.size, seq: msg.seq ?? 0 });
        return;
      case "direct_response_end":
        if (route.relayed !== route.expected) {
          return this.fail(route, `the SkyNode ended the response after ${route.relayed} of ${route.expected} bytes`);
        }
        this.routes.delete(route.relayId);
        return this.toRequester(route, { ...msg, request_id: route.requestId });
      case "direct_error":
        this.routes.delete(route.relayId);
        return this.toRequester(route, { ...msg, request_id: route.requestId });
    }
  }

  /** A base64 chunk exactly as our SkyNodes write it is relayed by splicing in the requester's id, never parsed:
   * false when the frame has another shape (it then takes the parsed path). */
  relayChunkText(from: Conn, text: string): boolean {
    if (!text.startsWith(CHUNK_HEAD) || !text.endsWith('"}')) return false;
    const idEnd = text.indexOf('"', CHUNK_HEAD.length);
    if (idEnd < 0 || !text.startsWith(B64_FIELD, idEnd)) return false;
    const relayId = text.slice(CHUNK_HEAD.length, idEnd);
    const dataStart = idEnd + B64_FIELD.length;
    const data = text.slice(dataStart, -2);
    // No quote or backslash may hide in the payload: the spliced frame must be the JSON it looks like.
    if (relayId.includes("\\") || data.includes('"') || data.includes("\\")) return false;
    const route = this.routeFor(from, relayId);
    if (route.expected === null) {
      this.fail(route, "the SkyNode sent a chunk before the response start");
      return true;
    }
    if (!this.take(route, Buffer.byteLength(data, "base64"))) return true;
    this.relayed(route, this.sendText(route, `{"kind":"direct_response_chunk","request_id":${route.requestIdJson},"data_b64":"${data}"}`));
    return true;
  }

  /** A binary frame from a SkyNode: the chunk its last header announced, passed on as the same buffer. */
  binary(from: Conn, data: Uint8Array): void {
    const pending = this.awaitingBinary.get(from);
    if (!pending) throw new RequestError("invalid", "a binary frame must directly follow a direct_response_chunk header");
    this.awaitingBinary.delete(from);
    const route = pending.route;
    if (!route || !this.routes.has(route.relayId)) return;
    if (data.byteLength !== pending.size) return this.fail(route, `a binary chunk of ${data.byteLength} bytes was announced as ${pending.size}`);
    if (!this.take(route, data.byteLength)) return;
    const header = `{"kind":"direct_response_chunk","request_id":${route.requestIdJson},"seq":${pending.seq},"size":${pending.size}}`;
    let result = 0;
    route.requester.ws.cork(() => {
      result = route.requester.ws.sendText(header);
      if (result !== 0) result = route.requester.ws.sendBinary(data);
    });
    this.relayed(route, result);
  }

  /** The requester's socket drained: direct responses streamed to it resume, and the SkyNodes relaying to it get
   * back the credit held while it was full. */
  drained(conn: Conn): void {
    conn.direct?.drain();
    for (const route of this.routes.values()) {
      if (route.requester !== conn || route.owed === 0) continue;
      this.grant(route, route.owed);
      route.owed = 0;
    }
  }

  /** A connection went away (or a SkyNode was superseded): the requests it was answering fail, those it asked are
   * cancelled at their SkyNode, and its own direct streams release their files at once. */
  connectionGone(conn: Conn): void {
    conn.direct?.close();
    this.awaitingBinary.delete(conn);
    for (const [id, route] of this.routes) {
      if (route.skynode === conn) {
        this.routes.delete(id);
        this.toRequester(route, {
          kind: "direct_error",
          request_id: route.requestId,
          code: "internal",
          message: "the SkyNode disconnected before the response completed",
        });
      } else if (route.requester === conn) {
        this.routes.delete(id);
        sendJson(route.skynode, { kind: "direct_cancel", request_id: id, reason: "the requester disconnected" });
      }
    }
  }

  private senderOf(conn: Conn): DirectSender {
    if (!conn.direct) {
      const ws = conn.ws;
      conn.direct = new DirectSender(
        {
          sendText: (text) => (conn.open ? ws.sendText(text) : 0),
          sendBinary: (bytes) => (conn.open ? ws.sendBinary(bytes) : 0),
          cork: (fn) => void ws.cork(fn),
        },
        this.chunkBytes,
      );
    }
    return conn.direct;
  }

  private routeFor(from: Conn, relayId: string): Route {
    const route = this.routes.get(relayId);
    if (!route || route.skynode !== from) throw new RequestError("not_found", `no open direct request ${relayId}`);
    return route;
  }

  /** Counts a chunk against the declared size and the window: false (and the request failed) when it breaks either. */
  private take(route: Route, bytes: number): boolean {
    route.relayed += bytes;
    route.credit--;
    if (route.relayed > route.expected!) {
      this.fail(route, `the SkyNode sent more than the ${route.expected} bytes it announced`);
      return false;
    }
    if (route.credit < 0) {
      this.fail(route, `the SkyNode sent more than ${RELAY_WINDOW} chunks ahead of the hub's credit`);
      return false;
    }
    return true;
  }

  private sendText(route: Route, text: string): number {
    return route.requester.open ? route.requester.ws.sendText(text) : 0;
  }

  private toRequester(route: Route, msg: object): void {
    sendJson(route.requester, msg);
  }

  /** A chunk went to the requester: the SkyNode may send another now, or once the requester drains. */
  private relayed(route: Route, result: number): void {
    if (result > 0) this.grant(route, 1);
    else if (result < 0) route.owed++;
    // 0: the requester is going away; its close cancels the request.
  }

  private grant(route: Route, chunks: number): void {
    route.credit += chunks;
    sendJson(route.skynode, { kind: "direct_credit", request_id: route.relayId, chunks });
  }

  private fail(route: Route, message: string): void {
    this.routes.delete(route.relayId);
    this.log.warn({ telescope_skynode: route.skynode.id, request_id: route.requestId }, message);
    this.toRequester(route, { kind: "direct_error", request_id: route.requestId, code: "internal", message });
    sendJson(route.skynode, { kind: "direct_cancel", request_id: route.relayId, reason: message });
  }
}
