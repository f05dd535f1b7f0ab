import type { CommandsInbound } from "../protocol";
import { RequestError, sendJson, type Conn } from "./connection";

type Request = Extract<CommandsInbound, { kind: "direct_request" }>;
type Response = Extract<CommandsInbound, { kind: `direct_${"response_start" | "response_chunk" | "response_end" | "error"}` }>;

interface Route {
  requester: Conn;
  requestId: string;
  skynode: Conn;
}

let nextRelayId = 0;

/** Routes a direct request to its telescope's SkyNode and relays the response frames back unchanged but for the
 * request id: the hub gives each forwarded request its own id, since ids chosen by different clients may collide. */
export class DirectRelay {
  private readonly routes = new Map<string, Route>();

  constructor(private readonly skynodeOf: (telescopeUid: string) => Conn | undefined) {}

  request(requester: Conn, msg: Request): void {
    const skynode = this.skynodeOf(msg.telescope_uid);
    if (!skynode) {
      return sendJson(requester, {
        kind: "direct_error",
        request_id: msg.request_id,
        code: "not_found",
        message: `telescope ${msg.telescope_uid} has no SkyNode connected`,
      });
    }
    const relayId = `r${++nextRelayId}`;
    this.routes.set(relayId, { requester, requestId: msg.request_id, skynode });
    sendJson(skynode, { ...msg, id: undefined, request_id: relayId });
  }

  response(from: Conn, msg: Response): void {
    const route = this.routes.get(msg.request_id);
    if (!route || route.skynode !== from) throw new RequestError("not_found", `no open direct request ${msg.request_id}`);
    if (msg.kind === "direct_response_end" || msg.kind === "direct_error") this.routes.delete(msg.request_id);
    sendJson(route.requester, { ...msg, request_id: route.requestId });
  }

  /** A connection went away (or a SkyNode was superseded): the requests it was answering fail, and those it asked
   * are forgotten. */
  connectionGone(conn: Conn): void {
    for (const [id, route] of this.routes) {
      if (route.skynode === conn) {
        this.routes.delete(id);
        sendJson(route.requester, {
          kind: "direct_error",
          request_id: route.requestId,
          code: "internal",
          message: "the SkyNode disconnected before the response completed",
        });
      } else if (route.requester === conn) {
        this.routes.delete(id);
      }
    }
  }
}
