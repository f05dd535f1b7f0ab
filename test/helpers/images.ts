import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../app/store/database";
import { ImageIndex } from "../../app/store/images";

let n = 0;

/** Stores `bytes` as an image of `telescopeUid` in a server's data dir, as the SkyNode's image writer would (a file
 * under images/ and a row in the index), and returns its id and path. */
export function storeImage(dataDir: string, bytes: Uint8Array, telescopeUid = "sim-1", meta: Record<string, unknown> = {}): { image_id: string; path: string } {
  const image_id = `fixture-${++n}-${crypto.randomUUID().slice(0, 8)}`;
  const dir = join(dataDir, "images", telescopeUid, "fixtures");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${image_id}.fits`);
  writeFileSync(path, bytes);
  const db = openDatabase(dataDir);
  try {
    new ImageIndex(db).add({ image_id, telescope_uid: telescopeUid, path, created_at: Date.now() + n, meta: { bytes: bytes.byteLength, ...meta } });
  } finally {
    db.close();
  }
  return { image_id, path };
}

/** Bytes that differ at every offset, so a misplaced or repeated chunk cannot go unnoticed. */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
