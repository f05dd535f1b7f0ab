// The bench load clients' WebSocket reader: a server's byte stream split into frames without copying whole frames.
// A data frame is handed over as soon as its first `prefixNeed` bytes are in (what the client reads of it), and the
// rest of it is skipped as it arrives; other frames are handed over whole.

export class FrameSplitter {
  private pending: Uint8Array | null = null;
  private skip = 0;

  constructor(
    private readonly prefixNeed: number,
    /** Whether a frame with this opcode is one whose prefix is enough. */
    private readonly isData: (opcode: number) => boolean,
    private readonly onData: (buf: Uint8Array, from: number, to: number, len: number, now: number) => void,
    private readonly onControl: (opcode: number, payload: Uint8Array) => void,
  ) {}

  /** One TCP read, all of whose frames arrived at `now`. */
  feed(chunk: Uint8Array, now: number): void {
    let buf = chunk;
    let off = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, buf.length);
      this.skip -= n;
      off = n;
      if (off === buf.length) return;
    }
    if (this.pending) {
      const rest = buf.subarray(off);
      const joined = new Uint8Array(this.pending.length + rest.length);
      joined.set(this.pending);
      joined.set(rest, this.pending.length);
      buf = joined;
      off = 0;
      this.pending = null;
    }
    while (off < buf.length) {
      const avail = buf.length - off;
      if (avail < 2) return void (this.pending = buf.slice(off));
      const opcode = buf[off]! & 0x0f;
      let len = buf[off + 1]! & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (avail < 4) return void (this.pending = buf.slice(off));
        len = (buf[off + 2]! << 8) | buf[off + 3]!;
        hdr = 4;
      } else if (len === 127) {
        if (avail < 10) return void (this.pending = buf.slice(off));
        len = Number(new DataView(buf.buffer, buf.byteOffset + off + 2, 8).getBigUint64(0));
        hdr = 10;
      }
      const data = this.isData(opcode);
      const need = hdr + (data ? Math.min(len, this.prefixNeed) : len);
      if (avail < need) return void (this.pending = buf.slice(off));
      const p = off + hdr;
      if (data) this.onData(buf, p, Math.min(p + len, buf.length), len, now);
      else this.onControl(opcode, buf.subarray(p, p + len));
      if (avail >= hdr + len) off += hdr + len;
      else {
        this.skip = hdr + len - avail;
        return;
      }
    }
  }
}

/** A client frame (masked, as RFC 6455 requires of clients). */
export function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(hdr + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, hdr);
  for (let i = 0; i < len; i++) out[hdr + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Where `pattern` ends in buf[from, to), or -1. */
export function findAfter(buf: Uint8Array, pattern: Uint8Array, from: number, to: number): number {
  const p0 = pattern[0]!;
  outer: for (let i = from; i <= to - pattern.length; i++) {
    if (buf[i] !== p0) continue;
    for (let k = 1; k < pattern.length; k++) if (buf[i + k] !== pattern[k]) continue outer;
    return i + pattern.length;
  }
  return -1;
}

export interface RawHandlers {
  /** The server's 101 is in: the socket now speaks WebSocket frames (send the first message here). */
  upgraded(socket: Bun.Socket<undefined>): void;
  /** Bytes after the upgrade response, as they arrive. */
  data(chunk: Uint8Array): void;
  closed(): void;
  failed(err: Error): void;
}

/** A raw WebSocket over Bun.connect (one read hands many frames over at once, without a MessageEvent per frame):
 * sends the upgrade request and, once the 101 has arrived, passes everything after it to `data`. */
export async function connectRaw(url: URL, h: RawHandlers): Promise<Bun.Socket<undefined>> {
  let handshake = "";
  let upgraded = false;
  return await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      open(socket) {
        const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
        socket.write(
          `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      },
      data(socket, chunk) {
        if (upgraded) return h.data(chunk);
        handshake += Buffer.from(chunk).toString("latin1");
        const end = handshake.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!handshake.startsWith("HTTP/1.1 101")) return h.failed(new Error(`upgrade refused: ${handshake.split("\r\n")[0]}`));
        upgraded = true;
        const rest = Buffer.from(handshake.slice(end + 4), "latin1");
        handshake = "";
        h.upgraded(socket);
        if (rest.length > 0) h.data(rest);
      },
      close() {
        h.closed();
      },
      error(_socket, err) {
        h.failed(err);
      },
    },
  });
}
