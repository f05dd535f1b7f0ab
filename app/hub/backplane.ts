import type { ErrorCode } from "../protocol";
import type { EventKey } from "./fanout";

/** What instances of a scaled-out hub tell each other: events for their subscribers, and which instance took over
 * a telescope's SkyNode. */
export type BackplaneEvent =
  | { t: "stream"; key: EventKey; kind: string; body: object; retain: boolean }
  | { t: "commands"; key: EventKey; kind: string; body: object }
  | { t: "claim"; uid: string; instance: string };

/** Events that must reach every instance (DESIGN.md §3: command events, command results and lease events are never
 * dropped; telescope logs with them): numbered by the sending instance, so that a receiver that missed some (Redis
 * away, a subscription lost) notices the gap and asks for them again. The others are latest-state snapshots: the
 * newest one is sent again instead. */
export function mustArrive(e: BackplaneEvent): boolean {
  return e.t === "commands" || (e.t === "stream" && (!e.retain || e.kind === "event_manual_control_lease"));
}

/** How an instance's link to the others is (for /healthz): `disconnected` means cut off from the other instances
 * (routed commands fail at once, events wait), since when and why; `lost_events` counts events of other instances
 * that could not be recovered after an outage. */
export interface BackplaneStatus {
  state: "connected" | "disconnected";
  since: string;
  last_error: string | null;
  outages: number;
  lost_events: number;
}

/** A principal as it crosses between instances (the instance that authenticated the caller vouches for it). */
export interface WirePrincipal {
  sub: string;
  role: string;
  telescopes: string[] | null;
}

/** A request to the instance that holds a telescope's SkyNode: it checks authority and lease and answers. */
export type RpcRequest =
  | { op: "command"; principal: WirePrincipal; client: string; msg: { telescope_uid: string; command_id: string; command: unknown } }
  | { op: "cancel"; principal: WirePrincipal; command_id: string };

export type RpcReply = { ok: true; seq?: number } | { ok: false; code: ErrorCode; message: string; details?: object };

/** The channel between hub instances (DESIGN.md §1). The appliance runs without one (a single process has nothing to
 * share); hub role with `[backplane] redis_url` uses Redis (redis-backplane.ts). */
export interface Backplane {
  readonly instanceId: string;
  readonly status: BackplaneStatus;
  /** To every other instance; while they cannot be reached, the events that must arrive (`mustArrive`) wait and
   * the latest snapshots are sent again once they can. */
  broadcast(event: BackplaneEvent): void;
  onEvent(handler: (event: BackplaneEvent) => void): void;
  /** This instance serves the telescope's SkyNode (a routing entry with a TTL, refreshed until released). */
  claim(uid: string): Promise<void>;
  release(uid: string): void;
  /** The instance serving the telescope's SkyNode, or null (none, or it crashed and its entry expired). */
  owner(uid: string): Promise<string | null>;
  /** Asks instance `to`; rejects when it does not answer in time, or at once when the instances cannot reach each
   * other. */
  call(to: string, req: RpcRequest): Promise<RpcReply>;
  onCall(handler: (req: RpcRequest) => RpcReply): void;
  /** Latest retained snapshots of every instance (for a new instance's first subscribers). */
  retained(): Promise<BackplaneEvent[]>;
  stop(): Promise<void>;
}
