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
  // The SkyNode's side: commands it is executing or has finished but the hub has not yet acknowledged.
  `CREATE TABLE node_outbox (
     telescope_uid TEXT NOT NULL,
     command_id TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('running', 'done')),
     result TEXT,
     ts INTEGER NOT NULL,
     PRIMARY KEY (telescope_uid, command_id)
   ) WITHOUT ROWID;
   CREATE TABLE images (
     image_id TEXT PRIMARY KEY,
     telescope_uid TEXT NOT NULL,
     path TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     meta TEXT NOT NULL
   );
   CREATE INDEX images_latest ON images (telescope_uid, created_at);
   CREATE TABLE tasks (
     task_id TEXT PRIMARY KEY,
     telescope_uid TEXT NOT NULL,
     position INTEGER NOT NULL,
     state TEXT NOT NULL,
     spec TEXT NOT NULL,
     progress TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  // Accounts that sign in with a password (the web UI); tokens issued by the CLI need none.
  `CREATE TABLE users (
     name TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     telescopes TEXT,
     password_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Federation upstream: how far into the journal the upstream hub has acknowledged, and the log lines it has not.
  `CREATE TABLE federation_cursor (
     telescope_uid TEXT NOT NULL,
     upstream TEXT NOT NULL,
     seq INTEGER NOT NULL,
     PRIMARY KEY (telescope_uid, upstream)
   ) WITHOUT ROWID;
   CREATE TABLE federation_logs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     upstream TEXT NOT NULL,
     entry TEXT NOT NULL
   );`,
  // Machine API keys (seed 004's api_key): only a SHA-256 of each key; a revoked key stays listed, its name reusable.
  `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   ) WITHOUT ROWID;
   CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;`,
  // Sign-in sessions ended on the server (sign-out) before their token expires; rows past expires_at are pruned.
  `CREATE TABLE revoked_tokens (
     jti TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Retention deletes the oldest journal entries and images first.
  `CREATE INDEX journal_ts ON journal (ts);
   CREATE INDEX images_created ON images (created_at);`,
];

const CHECKPOINT_INTERVAL_MS = 1000;

export function openDatabase(dataDir: string, busyTimeoutMs = 5000): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, "skynode.db"), { create: true, strict: true });
  db.run(`PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)}`);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  // Checkpoints (copying the WAL into the database file, with fsyncs) run on a timer instead of inside whichever
  // commit crosses the WAL size threshold: that commit would otherwise be a command waiting milliseconds.
  db.run("PRAGMA wal_autocheckpoint = 0");
  const checkpoint = setInterval(() => {
    try {
      db.run("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // Closed, or busy with another process: the next tick (or the close) checkpoints.
    }
  }, CHECKPOINT_INTERVAL_MS);
  checkpoint.unref();
  const close = db.close.bind(db);
  db.close = (throwOnError?: boolean) => {
    clearInterval(checkpoint);
    close(throwOnError);
  };
  const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  for (let i = version; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.run(MIGRATIONS[i]!);
      db.run(`PRAGMA user_version = ${i + 1}`);
    })();
  }
  return db;
}
