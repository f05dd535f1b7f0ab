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
