import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Append, never edit. */
const MIGRATIONS: string[] = [
  `CREATE TABLE journal (
     telescope_uid TEXT NOT NULL,
     seq INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('command', 'command_result', 'lease')),
     command_id TEXT,
     body TEXT NOT NULL,
     ts INTEGER NOT NULL,
     PRIMARY KEY (telescope_uid, seq)
   ) WITHOUT ROWID;
   CREATE UNIQUE INDEX journal_command ON journal (telescope_uid, command_id, kind) WHERE kind != 'lease';`,
];

export function openDatabase(dataDir: string, busyTimeoutMs = 5000): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, "skynode.db"), { create: true, strict: true });
  db.run(`PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)}`);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  for (let i = version; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.run(MIGRATIONS[i]!);
      db.run(`PRAGMA user_version = ${i + 1}`);
    })();
  }
  return db;
}
