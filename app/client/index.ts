export { SkynodeClient, type ConnectionState, type DirectOptions, type SkynodeClientOptions, type SubscribeOptions, type Subscription } from "./client";
export { SkynodeError, type Frame } from "./channel";
export type { DirectProgress, DirectResult } from "./direct-receiver";
