import { closeSync, fstatSync, openSync, read } from "node:fs";
import { DirectFailure } from "./failure";

/** What a direct request answers with: the start message's fields and a way to read the bytes. */
export interface DirectBody {
  readonly content_type: string;
  readonly total_size: number;
  readonly metadata: Record<string, unknown>;
  /** True when `read` fills the scratch buffer it is given (files); false when it returns views of bytes it holds. */
  readonly usesScratch: boolean;
  /** `length` bytes from `offset`: read into `into` (a scratch buffer of at least `length` bytes) or a view of
   * bytes the body holds. A view of `into` is valid until `into` is reused. */
  read(offset: number, length: number, into: Uint8Array | null): Uint8Array | Promise<Uint8Array>;
  /** Releases what the body holds (the open file); called exactly once, however the transfer ends. */
  close(): void;
}

/** A body held in memory (listings, previews): chunks are views of it, never copies. */
export function bytesBody(content_type: string, bytes: Uint8Array, metadata: Record<string, unknown> = {}): DirectBody {
  return {
    content_type,
    total_size: bytes.byteLength,
    metadata,
    usesScratch: false,
    read: (offset, length) => bytes.subarray(offset, offset + length),
    close() {},
  };
}

/** A stored file, opened now so that its size is fixed for the start message and a later rename cannot swap it.
 * Chunks are read into the sender's scratch buffers and sent from there: no per-chunk allocation, and only the
 * chunks in flight are resident, where a mapping of the whole file would grow RSS by its full size. A file that is
 * removed or truncated while it streams fails the transfer (`internal`) rather than ending it short or stale. */
export function fileBody(content_type: string, path: string, metadata: Record<string, unknown> = {}): DirectBody {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DirectFailure(code === "ENOENT" ? "not_found" : "internal", `cannot open the stored file: ${code ?? (err as Error).message}`);
  }
  const total_size = fstatSync(fd).size;
  let open = true;
  let reading = false;
  // The descriptor is closed only once no read is in flight: a number closed under a pending read could be reused
  // by another open before the read runs.
  const release = () => {
    if (!open && !reading && fd >= 0) {
      closeSync(fd);
      fd = -1;
    }
  };
  return {
    content_type,
    total_size,
    metadata,
    usesScratch: true,
    read(offset, length, into) {
      if (!open) return Promise.reject(new DirectFailure("internal", "the transfer was closed"));
      reading = true;
      return new Promise((resolve, reject) => {
        read(fd, into!, 0, length, offset, (err, n) => {
          reading = false;
          if (!open) {
            release();
            return reject(new DirectFailure("internal", "the transfer was closed"));
          }
          if (err) return reject(new DirectFailure("internal", `reading the stored file failed: ${err.code ?? err.message}`));
          // The data was read from the open file, but a removed file means the image no longer exists: the
          // requester must not take what it got for a complete, current copy.
          const st = fstatSync(fd);
          if (st.nlink === 0) return reject(new DirectFailure("internal", "the stored file was removed while it was being sent"));
          if (n < length || st.size < total_size) return reject(new DirectFailure("internal", "the stored file was truncated while it was being sent"));
          resolve(into!.subarray(0, n));
        });
      });
    },
    close() {
      open = false;
      release();
    },
  };
}
