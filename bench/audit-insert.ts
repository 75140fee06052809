// Micro-benchmark of the audit writer's SQLite inserts: CPU per row of EventsRepository.insertBatch
// (up to 32 rows per statement, today's compact schema), against one prepared single-row statement
// per row on the schema before migration 009 (uuids and text timestamps) and before 005 (CHECK … IN (…)), for batches of 10, 100 and 1 000 rows. Each figure is the median of RUNS runs of ROWS rows on a
// fresh database. Bounded: RUNS × ROWS rows per case and TIME_LIMIT_MS per case.
// Run: node --import tsx bench/audit-insert.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase, type Database } from '../src/store/db.js';
import { EventsRepository, isoTimestamp, type EventRow } from '../src/store/events.js';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { SWAPPED_REQUEST } from './audit-rows.js';

const ROWS = 30_000;
const RUNS = 7;
const TIME_LIMIT_MS = 20_000;
const BATCH_SIZES = [10, 100, 1_000];

/** What the audit subscriber writes for a request that had a stand-in swapped. */
function requestRow(i: number): EventRow {
  return {
    ...SWAPPED_REQUEST,
    ts: Date.now() + i,
    sandboxId: '6f1c2a9e-3b4d-4c8e-9a1f-0b2c3d4e5f60',
    sandboxName: 'bench',
    secretId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    host: 'api.openai.com',
    errorCode: null,
    requestId: 'c0ffee0123456789abcdef01',
  };
}

type Insert = (rows: readonly EventRow[]) => void;

interface Writer {
  /** Migrations applied to the database it writes to. */
  schemaVersion: number;
  prepare(db: Database): Insert;
}

/** The single-row INSERT, one statement per row, in one transaction per batch. */
function statementPerRow(db: Database): Insert {
  const insert = db.prepare(
    `INSERT INTO events (kind, ts, sandbox_id, sandbox_name, secret_id, host, method, path, status, upstream_status,
       latency_ms, error_code, dst_ip, dst_port, verdict, match_rule, bytes_sent, bytes_recv)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return db.transaction((rows: readonly EventRow[]) => {
    for (const r of rows) {
      insert.run(
        r.kind,
        isoTimestamp(r.ts),
        r.sandboxId,
        r.sandboxName,
        r.secretId,
        r.host,
        r.method,
        r.path,
        r.status,
        r.upstreamStatus,
        r.latencyMs,
        r.errorCode,
        r.dstIp,
        r.dstPort,
        r.verdict,
        r.matchRule,
        r.bytesSent,
        r.bytesRecv,
      );
    }
  });
}

const WRITERS: Record<string, Writer> = {
  'insertBatch (32 rows per statement)': {
    schemaVersion: MIGRATIONS.length,
    prepare: (db) => {
      const events = new EventsRepository(db);
      return (rows) => events.insertBatch(rows);
    },
  },
  'one statement per row, schema before 009': { schemaVersion: 8, prepare: statementPerRow },
  'one statement per row, schema before 005': { schemaVersion: 4, prepare: statementPerRow },
};

/** A database with the first `version` migrations, configured as openDatabase configures it. */
function openAt(path: string, version: number): Database {
  if (version === MIGRATIONS.length) return openDatabase(path);
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
  return db;
}

/** CPU µs per row for one run of ROWS rows in batches of `batchSize`. */
function runOnce(writer: Writer, batchSize: number, rows: readonly EventRow[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-audit-bench-'));
  const db = openAt(join(dir, 'bench.db'), writer.schemaVersion);
  try {
    const insert = writer.prepare(db);
    const start = process.cpuUsage();
    for (let i = 0; i < rows.length; i += batchSize) insert(rows.slice(i, i + batchSize));
    const used = process.cpuUsage(start);
    return (used.user + used.system) / rows.length;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = Array.from({ length: ROWS }, (_, i) => requestRow(i));
const table: Array<Record<string, string>> = [];
for (const batchSize of BATCH_SIZES) {
  for (const [name, writer] of Object.entries(WRITERS)) {
    const deadline = performance.now() + TIME_LIMIT_MS;
    const perRow: number[] = [];
    while (perRow.length < RUNS && performance.now() < deadline) perRow.push(runOnce(writer, batchSize, rows));
    perRow.sort((a, b) => a - b);
    table.push({
      writer: name,
      'rows per batch': String(batchSize),
      runs: String(perRow.length),
      'median µs/row (CPU)': perRow[Math.floor(perRow.length / 2)]!.toFixed(1),
      range: `${perRow[0]!.toFixed(1)}–${perRow[perRow.length - 1]!.toFixed(1)}`,
    });
  }
}
console.log(`audit-insert: ${ROWS} rows per run, fresh WAL database each run, node ${process.version}`);
console.table(table);
