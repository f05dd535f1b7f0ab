import type { Database, Statement } from "bun:sqlite";
import { WriteBehind } from "./write-behind";

export interface ImageRecord {
  image_id: string;
  telescope_uid: string;
  /** Absolute path of the FITS file in the data dir. */
  path: string;
  created_at: number;
  meta: Record<string, unknown>;
}

/** An add or a delete not yet in the database (null: deleted). */
interface Pending {
  telescope_uid: string;
  record: ImageRecord | null;
}

/** The index of stored images: what `image.fetch` and the automation's progress look up. Adds and deletes are
 * written behind (app/store/write-behind.ts) and seen by every read at once, so an image stored while the
 * database is locked or full is listed and fetchable, and its row lands later. */
export class ImageIndex {
  private readonly writes: WriteBehind;
  private readonly pending = new Map<string, Pending>();
  private readonly insert: Statement;
  private readonly del: Statement;
  private readonly byId: Statement;
  private readonly listStmt: Statement;
  private readonly oldestStmt: Statement;
  private readonly totalStmt: Statement;
  private readonly allStmt: Statement;

  constructor(db: Database) {
    this.writes = WriteBehind.of(db);
    // DO NOTHING: a retried add lands once.
    this.insert = db.query(
      "INSERT INTO images (image_id, telescope_uid, path, created_at, meta) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (image_id) DO NOTHING",
    );
    this.del = db.query("DELETE FROM images WHERE image_id = ?1");
    this.byId = db.query("SELECT * FROM images WHERE image_id = ?1");
    this.listStmt = db.query("SELECT * FROM images WHERE telescope_uid = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2");
    this.oldestStmt = db.query("SELECT * FROM images WHERE created_at > ?1 OR (created_at = ?1 AND image_id > ?2) ORDER BY created_at, image_id LIMIT ?3");
    this.totalStmt = db.query("SELECT COALESCE(SUM(json_extract(meta, '$.bytes')), 0) AS bytes, COUNT(*) AS n FROM images");
    this.allStmt = db.query("SELECT image_id, path FROM images");
  }

  add(r: ImageRecord): void {
    const entry: Pending = { telescope_uid: r.telescope_uid, record: r };
    this.pending.set(r.image_id, entry);
    const meta = JSON.stringify(r.meta);
    this.writes.enqueue({
      label: `images: add ${r.image_id}`,
      run: () => void this.insert.run(r.image_id, r.telescope_uid, r.path, r.created_at, meta),
      settled: () => this.settle(r.image_id, entry),
    });
  }

  /** Deletes the row; `landed` runs once the delete is in the database (the image retention removes the file then,
   * so that on disk there is never a row without its file). */
  remove(r: ImageRecord, landed?: () => void): void {
    const entry: Pending = { telescope_uid: r.telescope_uid, record: null };
    this.pending.set(r.image_id, entry);
    this.writes.enqueue({
      label: `images: remove ${r.image_id}`,
      run: () => void this.del.run(r.image_id),
      settled: (ok) => {
        this.settle(r.image_id, entry);
        if (ok) landed?.();
      },
    });
  }

  get(imageId: string): ImageRecord | null {
    const p = this.pending.get(imageId);
    if (p) return p.record;
    return toRecord(this.byId.get(imageId) as Row | null);
  }

  latest(telescopeUid: string): ImageRecord | null {
    return this.list(telescopeUid, 1)[0] ?? null;
  }

  list(telescopeUid: string, limit = 100): ImageRecord[] {
    const mine = [...this.pending.entries()].filter(([, p]) => p.telescope_uid === telescopeUid);
    const rows = (this.listStmt.all(telescopeUid, limit + mine.length) as Row[]).filter((r) => !this.pending.has(r.image_id)).map((r) => toRecord(r)!);
    const added = mine.flatMap(([, p]) => (p.record ? [p.record] : []));
    // Stable sort: on equal times the (newer) pending adds stay ahead, as rowid DESC orders the rows.
    return [...added, ...rows].sort((a, b) => b.created_at - a.created_at).slice(0, limit);
  }

  /** Images of every telescope, oldest first, after the cursor (created_at, image_id): what retention walks. */
  oldest(after: ImageCursor | null, limit: number): { images: ImageRecord[]; next: ImageCursor | null } {
    const rows = this.oldestStmt.all(after?.created_at ?? Number.MIN_SAFE_INTEGER, after?.image_id ?? "", limit) as Row[];
    const last = rows.at(-1);
    return {
      images: rows.filter((r) => !this.pending.has(r.image_id)).map((r) => toRecord(r)!),
      next: last && rows.length === limit ? { created_at: last.created_at, image_id: last.image_id } : null,
    };
  }

  /** Bytes and count of every indexed image (by the size recorded at store time), pending writes included. */
  totals(): { bytes: number; count: number } {
    const t = this.totalStmt.get() as { bytes: number; n: number };
    let bytes = t.bytes;
    let count = t.n;
    for (const [id, p] of this.pending) {
      const row = this.byId.get(id) as Row | null;
      if (row) {
        bytes -= bytesOf(toRecord(row)!);
        count--;
      }
      if (p.record) {
        bytes += bytesOf(p.record);
        count++;
      }
    }
    return { bytes, count };
  }

  /** Every image's id and path (pending writes included): what the start-up check matches against the files. */
  paths(): Map<string, string> {
    const out = new Map((this.allStmt.all() as { image_id: string; path: string }[]).map((r) => [r.image_id, r.path]));
    for (const [id, p] of this.pending) {
      if (p.record) out.set(id, p.record.path);
      else out.delete(id);
    }
    return out;
  }

  private settle(imageId: string, entry: Pending): void {
    // A later add or delete of the same id is still pending: it stays the one reads see.
    if (this.pending.get(imageId) === entry) this.pending.delete(imageId);
  }
}

export type ImageCursor = { created_at: number; image_id: string };

export const bytesOf = (r: ImageRecord): number => (typeof r.meta.bytes === "number" ? r.meta.bytes : 0);

type Row = Omit<ImageRecord, "meta"> & { meta: string };
const toRecord = (r: Row | null): ImageRecord | null => (r ? { ...r, meta: JSON.parse(r.meta) } : null);
