/** Named publish/subscribe channels shared by the instances of a scaled-out hub (Redis: redis-channel-bus.ts). The
 * topic and group APIs (docs/messaging.md) deliver to their own instance's sockets themselves and use the bus only
 * for the other instances; the appliance runs without one. */
export interface ChannelBus {
  /** Receives what other instances publish on `channel` until `leave` (joins are counted per channel); resolves once
   * the subscription is in place (what is published after that reaches this instance). Rejects at once while the
   * instances cannot reach each other; the channel stays joined and is subscribed once they can. */
  join(channel: string, handler: (text: string) => void): Promise<void>;
  leave(channel: string, handler: (text: string) => void): void;
  /** To the other instances joined to `channel`; resolves with how many received it, rejects at once while they
   * cannot be reached. */
  publish(channel: string, text: string): Promise<number>;
  /** For /healthz: `disconnected` while the other instances cannot be reached (since when, why). */
  readonly status: ChannelBusStatus;
  stop(): Promise<void>;
}

export interface ChannelBusStatus {
  state: "connected" | "disconnected";
  since: string;
  last_error: string | null;
  outages: number;
}
