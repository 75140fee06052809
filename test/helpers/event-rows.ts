import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import type { EventRow } from '../../src/store/events.js';

/** A migrated SQLite database in a fresh tmp dir; `cleanup` closes it and removes the dir. */
export function tempDatabase(): { db: Database; path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-events-'));
  const path = join(dir, 'credproxy.db');
  const db = openDatabase(path);
  return {
    db,
    path,
    cleanup() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A request row with every column set the way the audit subscriber sets it. */
export function requestRowFixture(overrides: Partial<EventRow> = {}): EventRow {
  return {
    kind: 'request', ts: Date.UTC(2025, 0, 2, 3, 4, 5), sandboxId: 'sb-1', sandboxName: 'one', secretId: null,
    host: 'api.example.com', method: 'GET', path: '/v1/x', status: 200, upstreamStatus: 200, latencyMs: 12,
    errorCode: null, dstIp: null, dstPort: null, verdict: null, matchRule: null, bytesSent: null, bytesRecv: null,
    requestId: '0123456789abcdef01234567', ...overrides,
  };
}

/** A connection row (one tunnel). */
export function connectionRowFixture(overrides: Partial<EventRow> = {}): EventRow {
  return {
    kind: 'connection', ts: Date.UTC(2025, 0, 2, 3, 4, 5), sandboxId: 'sb-1', sandboxName: 'one', secretId: null,
    host: 'api.example.com', method: null, path: null, status: null, upstreamStatus: null, latencyMs: null,
    errorCode: null, dstIp: '127.0.0.1', dstPort: 443, verdict: 'allowed', matchRule: 'allow_out *', bytesSent: 10,
    bytesRecv: 20, requestId: 'fedcba9876543210fedcba98', ...overrides,
  };
}

/** A logger whose NDJSON lines land in `lines` (parsed). */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}
