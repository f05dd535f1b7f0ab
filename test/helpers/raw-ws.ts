import { connect, type Socket } from "node:net";

export type RawFrame = { text: string } | { binary: Uint8Array };

/** A WebSocket client over a plain TCP socket whose reading the test controls: `pause()` stops reading from the
 * kernel (the server then meets real backpressure), `resume()` carries on. Frames are parsed by hand (RFC 6455). */
export class RawWebSocket {
  readonly frames: RawFrame[] = [];
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** Bytes the frame at the head of `pieces` needs before it is worth joining them. */
  private need = 2;
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(private readonly socket: Socket) {}

  static connect(port: number, path: string): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
      let head = Buffer.alloc(0);
      const onData = (data: Buffer) => {
        head = Buffer.concat([head, data]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        const status = head.subarray(0, end).toString();
        if (!status.startsWith("HTTP/1.1 101")) return reject(new Error(`upgrade refused: ${status.split("\r\n")[0]}`));
        const ws = new RawWebSocket(socket);
        socket.on("data", (d: Buffer) => ws.onData(d));
        socket.on("close", () => {
          ws.closed = true;
          ws.wake();
        });
        ws.onData(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on("data", onData);
      socket.on("error", reject);
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  sendText(text: string): void {
    const payload = Buffer.from(text);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const len = payload.length;
    const header = len < 126 ? Buffer.from([0x81, 0x80 | len]) : len < 65536 ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]) : null;
    if (!header) throw new Error("frame too long for this test client");
    for (let i = 0; i < len; i++) payload[i]! ^= mask[i & 3]!;
    this.socket.write(Buffer.concat([header, mask, payload]));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Waits until `pred` holds over the frames received so far. */
  async until(pred: (frames: RawFrame[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.frames)) {
      if (this.closed) throw new Error("socket closed while waiting");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`condition not met within ${timeoutMs} ms (${this.frames.length} frames)`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(data: Buffer): void {
    if (data.length) this.pieces.push(data);
    this.pieceBytes += data.length;
    // Join only once the frame at the head is complete: joining on every TCP read would copy a large frame over
    // and over.
    if (this.pieceBytes < this.need) return;
    let b = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
    this.need = 2;
    while (b.length >= 2) {
      const opcode = b[0]! & 0x0f;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) {
          this.need = 4;
          break;
        }
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) {
          this.need = 10;
          break;
        }
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) {
        this.need = off + len;
        break;
      }
      const payload = b.subarray(off, off + len);
      if (opcode === 1) this.frames.push({ text: payload.toString() });
      else if (opcode === 2) this.frames.push({ binary: new Uint8Array(payload) });
      b = b.subarray(off + len);
    }
    this.pieces = b.length ? [b] : [];
    this.pieceBytes = b.length;
    this.wake();
  }
}
