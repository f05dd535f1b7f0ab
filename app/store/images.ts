import type { Database, Statement } from "bun:sqlite";

export interface ImageRecord {
  image_id: string;
  telescope_uid: string;
  /** Absolute path of the FITS file in the data dir. */
  path: string;
  created_at: number;
  meta: Record<string, unknown>;
}

/** The index of stored images: what `image.fetch` and the automation's progress look up. */
export class ImageIndex {
  private readonly insert: Statement;
  private readonly byId: Statement;
  private readonly latestStmt: Statement;
  private readonly listStmt: Statement;

  constructor(db: Database) {
    this.insert = db.query("INSERT INTO images (image_id, telescope_uid, path, created_at, meta) VALUES (?1, ?2, ?3, ?4, ?5)");
    this.byId = db.query("SELECT * FROM images WHERE image_id = ?1");
    this.latestStmt = db.query("SELECT * FROM images WHERE telescope_uid = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1");
    this.listStmt = db.query("SELECT * FROM images WHERE telescope_uid = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2");
  }

  add(r: ImageRecord): void {
    this.insert.run(r.image_id, r.telescope_uid, r.path, r.created_at, JSON.stringify(r.meta));
  }

  get(imageId: string): ImageRecord | null {
    return toRecord(this.byId.get(imageId) as Row | null);
  }

  latest(telescopeUid: string): ImageRecord | null {
    return toRecord(this.latestStmt.get(telescopeUid) as Row | null);
  }

  list(telescopeUid: string, limit = 100): ImageRecord[] {
    return (this.listStmt.all(telescopeUid, limit) as Row[]).map((r) => toRecord(r)!);
  }
}

type Row = Omit<ImageRecord, "meta"> & { meta: string };
const toRecord = (r: Row | null): ImageRecord | null => (r ? { ...r, meta: JSON.parse(r.meta) } : null);
