import { SkynodeError, type Frame } from "./channel";

export interface DirectResult {
  content_type: string;
  metadata: Record<string, unknown>;
  /** Exactly `total_size` bytes. */
  bytes: Uint8Array<ArrayBuffer>;
}

export interface DirectProgress {
  received: number;
  total: number;
}

interface Open {
  resolve(r: DirectResult): void;
  reject(e: Error): void;
  onProgress?: (p: DirectProgress) => void;
  start: Frame | null;
  bytes: Uint8Array<ArrayBuffer> | null;
  received: number;
}

/** Reassembles direct responses on one socket, in either encoding: bytes land in one buffer of `total_size`
 * allocated at the start; a response that overruns it, or ends short of it, is an error. */
export class DirectReceiver {
  private readonly open = new Map<string, Open>();
  /** The binary frame that follows a binary chunk header belongs to that header's request. */
  private awaiting: { id: string; size: number } | null = null;

  expect(id: string, onProgress?: (p: DirectProgress) => void): Promise<DirectResult> {
    if (this.open.has(id)) return Promise.reject(new SkynodeError("conflict", `direct request ${id} is already open`));
    return new Promise((resolve, reject) => this.open.set(id, { resolve, reject, onProgress, start: null, bytes: null, received: 0 }));
  }

  /** A text frame of a direct response; false if it is not one. */
  text(f: Frame): boolean {
    if (!f.kind.startsWith("direct_")) return false;
    const id = String(f.request_id);
    const o = this.open.get(id);
    if (!o) return true;
    switch (f.kind) {
      case "direct_response_start": {
        const total = Number(f.total_size);
        o.start = f;
        o.bytes = new Uint8Array(total);
        o.received = 0;
        break;
      }
      case "direct_response_chunk":
        if (!o.bytes) return this.fail(id, new SkynodeError("internal", "a chunk arrived before the response start"));
        if (typeof f.data_b64 === "string") this.add(id, o, decodeBase64(f.data_b64));
        else this.awaiting = { id, size: Number(f.size) };
        break;
      case "direct_response_end":
        if (!o.bytes || o.received !== o.bytes.byteLength) {
          return this.fail(id, new SkynodeError("internal", `the response ended after ${o.received} of ${o.bytes?.byteLength ?? "?"} bytes`));
        }
        this.open.delete(id);
        o.resolve({ content_type: String(o.start!.content_type), metadata: (o.start!.metadata as Record<string, unknown>) ?? {}, bytes: o.bytes });
        break;
      case "direct_error":
        // Whatever arrived is discarded with the request (seed 001).
        this.fail(id, new SkynodeError(f.code as never, String(f.message), f.details as Record<string, unknown>));
        break;
    }
    return true;
  }

  binary(data: Uint8Array): void {
    const a = this.awaiting;
    this.awaiting = null;
    if (!a) return;
    const o = this.open.get(a.id);
    if (!o) return;
    if (data.byteLength !== a.size) return void this.fail(a.id, new SkynodeError("internal", `a binary chunk of ${data.byteLength} bytes was announced as ${a.size}`));
    this.add(a.id, o, data);
  }

  /** The socket dropped: every open request fails. */
  dropAll(reason: string): void {
    this.awaiting = null;
    for (const id of [...this.open.keys()]) this.fail(id, new SkynodeError("disconnected", reason));
  }

  fail(id: string, err: Error): true {
    const o = this.open.get(id);
    this.open.delete(id);
    o?.reject(err);
    return true;
  }

  private add(id: string, o: Open, chunk: Uint8Array): void {
    if (o.received + chunk.byteLength > o.bytes!.byteLength) {
      return void this.fail(id, new SkynodeError("internal", `the response overran its total_size of ${o.bytes!.byteLength} bytes`));
    }
    o.bytes!.set(chunk, o.received);
    o.received += chunk.byteLength;
    o.onProgress?.({ received: o.received, total: o.bytes!.byteLength });
  }
}

type Base64Native = { fromBase64?: (s: string) => Uint8Array };

/** The native decoder where the runtime has one (Bun, recent browsers), else atob. */
export function decodeBase64(b64: string): Uint8Array {
  const native = (Uint8Array as unknown as Base64Native).fromBase64;
  if (native) return native(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
