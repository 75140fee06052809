import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';

export type Database = BetterSqlite3.Database;

/** How long a writer waits for another connection's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

export interface OpenDatabaseOptions {
  /**
   * Bring the schema up to date (default true). False for a second connection to a database the
   * daemon has already opened, such as the audit writer's.
   */
  migrate?: boolean;
}

/**
 * Opens (creating when absent) the SQLite database at `path` and brings its schema up to date.
 * The file is created 0600 before SQLite touches it: SQLite gives the -wal and -shm files the
 * main file's mode, so nothing of the database is ever world-readable.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);

  const db = new BetterSqlite3(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (options.migrate ?? true) migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Runs every migration past `PRAGMA user_version`, each with its version bump in one transaction. */
function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this build knows (${MIGRATIONS.length}); upgrade credproxy`);
  }
  MIGRATIONS.slice(current).forEach((sql, offset) => {
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${current + offset + 1}`);
    })();
  });
}
