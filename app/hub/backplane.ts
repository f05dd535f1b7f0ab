import type { ErrorCode } from "../protocol";
import type { EventKey } from "./fanout";

/** What instances of a scaled-out hub tell each other: events for their subscribers, and which instance took over
 * a telescope's SkyNode. */
export type BackplaneEvent =
  | { t: "stream"; key: EventKey; kind: string; body: object; retain: boolean }
  | { t: "commands"; key: EventKey; kind: string; body: object }
  | { t: "claim"; uid: string; instance: string };

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
  /** To every other instance. */
  broadcast(event: BackplaneEvent): void;
  onEvent(handler: (event: BackplaneEvent) => void): void;
  /** This instance serves the telescope's SkyNode (a routing entry with a TTL, refreshed until released). */
  claim(uid: string): Promise<void>;
  release(uid: string): void;
  /** The instance serving the telescope's SkyNode, or null (none, or it crashed and its entry expired). */
  owner(uid: string): Promise<string | null>;
  /** Asks instance `to`; rejects when it does not answer in time. */
  call(to: string, req: RpcRequest): Promise<RpcReply>;
  onCall(handler: (req: RpcRequest) => RpcReply): void;
  /** Latest retained snapshots of every instance (for a new instance's first subscribers). */
  retained(): Promise<BackplaneEvent[]>;
  stop(): Promise<void>;
}
