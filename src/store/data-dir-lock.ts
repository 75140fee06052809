import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ConfigError } from '../errors.js';

const LOCK_FILE = 'credproxy.lock';
/** Who holds the lock, for the other process's message: the lock file itself cannot be read while held. */
const PID_FILE = 'credproxy.pid';

/**
 * Runs `start` holding the data dir's lock, and releases it when what it started is closed (or
 * failed to start). Two daemons on one data dir would each keep their own rule table, so a
 * sandbox deleted through one would still authenticate on the other: the second is refused.
 */
export async function holdingDataDir<T extends { close(): Promise<void> }>(dataDir: string, start: () => Promise<T>): Promise<T> {
  const lock = lockDataDir(dataDir);
  let running: T;
  try {
    running = await start();
  } catch (err) {
    lock.release();
    throw err;
  }
  const close = running.close.bind(running);
  running.close = () => close().finally(() => lock.release());
  return running;
}

/**
 * Takes the data dir's exclusive lock: SQLite's own locking on `credproxy.lock` (an fcntl lock in
 * EXCLUSIVE locking mode, held until the connection closes), which the kernel drops when the
 * process dies, so a crash never leaves a stale lock, and which holds across processes and
 * between connections of one process. Throws a ConfigError naming `dataDir` and the holder's pid.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new BetterSqlite3(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)');
    // A write takes the EXCLUSIVE lock, which EXCLUSIVE locking mode keeps until close.
    db.transaction(() => {
      db.exec('DELETE FROM holder');
      db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
    }).exclusive();
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    const holder = readHolder(dataDir);
    throw new ConfigError(
      'dataDir',
      `${dataDir} is in use by another credproxy${holder ? ` (pid ${holder})` : ''}; stop it first, or give this one its own data dir`,
    );
  }
  const pidPath = join(dataDir, PID_FILE);
  writeFileSync(pidPath, `${process.pid}\n`);
  return {
    release() {
      if (!db.open) return;
      if (readHolder(dataDir) === String(process.pid)) rmSync(pidPath, { force: true });
      db.close();
    },
  };
}

function readHolder(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, PID_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
