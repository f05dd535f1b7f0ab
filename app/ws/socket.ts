/** The part of Bun's ServerWebSocket every endpoint uses: what a connection may do with its socket. */
export interface WsSocket {
  sendText(data: string): number;
  sendBinary(data: Uint8Array): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  cork<T>(callback: () => T): T;
  close(code?: number, reason?: string): void;
}
