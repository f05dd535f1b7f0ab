/** A WebSocket test client that records every frame and lets a test wait for the next one matching a predicate. */
export type Frame = Record<string, any> & { kind: string };

export class TestClient {
  readonly received: Frame[] = [];
  readonly binary: Uint8Array[] = [];
  private readonly consumed = new Set<Frame>();
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  closed: { code: number; reason: string } | null = null;
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => {
      if (typeof e.data !== "string") return void this.binary.push(new Uint8Array(e.data as ArrayBuffer));
      const frame = JSON.parse(e.data) as Frame;
      this.received.push(frame);
      const waiter = this.waiters.find((w) => w.pred(frame));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        this.consumed.add(frame);
        waiter.resolve(frame);
      }
    };
    socket.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
      for (const w of this.closeWaiters) w(this.closed);
    };
  }

  static connect(url: string, init?: { headers?: Record<string, string> }): Promise<TestClient> {
    const socket = new WebSocket(url, init as any);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new TestClient(socket));
      socket.onerror = () => reject(new Error(`could not connect to ${url}`));
      socket.onclose = (e) => reject(new Error(`closed before open: ${e.code}`));
    });
  }

  send(message: object | string | Uint8Array): void {
    this.socket.send(typeof message === "object" && !(message instanceof Uint8Array) ? JSON.stringify(message) : message);
  }

  /** Sends and waits for the answer echoing `id` (ack, pong or error). */
  async request(message: { id: string; [key: string]: unknown }, timeoutMs = 5000): Promise<Frame> {
    this.send(message);
    return this.next((f) => f.id === message.id && ["ack", "pong", "error"].includes(f.kind), timeoutMs);
  }

  /** The oldest frame not yet returned by next/request that matches `pred`, waiting for it if need be. */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const found = this.received.find((f) => !this.consumed.has(f) && pred(f));
    if (found) {
      this.consumed.add(found);
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const unseen = this.received.filter((f) => !this.consumed.has(f));
        reject(new Error(`no matching frame within ${timeoutMs} ms; unconsumed: ${JSON.stringify(unseen).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  kind(kind: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.kind === kind, timeoutMs);
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    return this.closed ? Promise.resolve(this.closed) : new Promise((r) => this.closeWaiters.push(r));
  }

  close(): void {
    this.socket.close();
  }
}
