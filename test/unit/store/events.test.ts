import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../../../src/store/db.js';
import { EventsRepository, decodeCursor, encodeCursor, flatRowCount, flattenEventRows, isoTimestamp, type EventRow } from '../../../src/store/events.js';
import { MIGRATIONS } from '../../../src/store/migrations/index.js';
import { connectionRowFixture, requestRowFixture, tempDatabase } from '../../helpers/event-rows.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

/** A database file with the first `version` migrations applied, open without openDatabase. */
function databaseAt(version: number, t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'credproxy.db');
  const old = new BetterSqlite3(path);
  for (const sql of MIGRATIONS.slice(0, version)) old.exec(sql);
  old.pragma(`user_version = ${version}`);
  return { path, old };
}

function setup(t: { after(fn: () => void): void }) {
  const temp = tempDatabase();
  t.after(() => temp.cleanup());
  return { ...temp, events: new EventsRepository(temp.db) };
}

/** requestRowFixture's row as the audit API shows it, in the documented field order. */
function auditItem(fields: { id: number; ts: string; request_id?: string }) {
  return {
    id: fields.id,
    ts: fields.ts,
    sandbox_id: 'sb-1',
    sandbox_name: 'one',
    secret_id: 's1',
    method: 'GET',
    host: 'api.example.com',
    path: '/v1/x',
    status: 200,
    upstream_status: 200,
    latency_ms: 12,
    ...(fields.request_id === undefined ? {} : { request_id: fields.request_id }),
  };
}

test('audit rows come back newest first in the documented shape, absent optionals omitted', (t) => {
  const { events } = setup(t);
  events.insertBatch([
    requestRowFixture({ secretId: 's1', ts: T0 }),
    // A row from before migration 008 has no request id, and the API leaves the field out.
    requestRowFixture({
      secretId: 's1',
      ts: T0 + 1,
      status: 403,
      upstreamStatus: null,
      errorCode: 'credential_host_mismatch',
      sandboxId: 'sb-2',
      sandboxName: null,
      requestId: null,
    }),
    requestRowFixture({ secretId: 's2', ts: T0 + 2 }),
  ]);
  const rows = events.auditForSecret('s1', { limit: 10 });
  const newer = {
    id: 2,
    ts: '2025-01-02T03:04:05.001Z',
    sandbox_id: 'sb-2',
    secret_id: 's1',
    method: 'GET',
    host: 'api.example.com',
    path: '/v1/x',
    status: 403,
    latency_ms: 12,
    error_code: 'credential_host_mismatch',
  };
  const older = auditItem({ id: 1, ts: '2025-01-02T03:04:05.000Z', request_id: '0123456789abcdef01234567' });
  assert.deepEqual(rows, [newer, older]);
  assert.deepEqual(Object.keys(rows[1]!), Object.keys(older));
});

test('audit status filters: each class and errors (>= 400)', (t) => {
  const { events } = setup(t);
  const statuses = [200, 204, 301, 404, 403, 502, 503, 0];
  events.insertBatch(statuses.map((status, i) => requestRowFixture({ secretId: 's1', ts: T0 + i, status })));
  const of = (status?: '2xx' | '3xx' | '4xx' | '5xx' | 'errors') => events.auditForSecret('s1', { limit: 100, status }).map((e) => e.status);
  assert.deepEqual(of('2xx'), [204, 200]);
  assert.deepEqual(of('3xx'), [301]);
  assert.deepEqual(of('4xx'), [403, 404]);
  assert.deepEqual(of('5xx'), [503, 502]);
  assert.deepEqual(of('errors'), [503, 502, 403, 404]);
  assert.deepEqual(of(), [0, 503, 502, 403, 404, 301, 204, 200]);
});

test('audit excludes connection rows and other secrets; before pages 2,500 rows exactly once', (t) => {
  const { events } = setup(t);
  const rows: EventRow[] = [];
  for (let i = 0; i < 2500; i++) {
    rows.push(requestRowFixture({ secretId: 's1', ts: T0 + Math.floor(i / 100) * 1000 }));
    if (i % 10 === 0) rows.push(requestRowFixture({ secretId: 's2' }), connectionRowFixture());
  }
  events.insertBatch(rows);
  const seen = new Set<number>();
  let before: number | undefined;
  for (let page = 0; page < 10; page++) {
    const batch = events.auditForSecret('s1', { limit: 1000, before });
    if (batch.length === 0) break;
    for (const e of batch) {
      assert.equal(e.secret_id, 's1');
      assert.ok(!seen.has(e.id), `id ${e.id} repeated`);
      if (before !== undefined) assert.ok(e.id < before);
      seen.add(e.id);
    }
    before = batch[batch.length - 1]!.id;
  }
  assert.equal(seen.size, 2500);
});

test('network pages 2,500 rows exactly once with an opaque cursor, even when timestamps tie', (t) => {
  const { events } = setup(t);
  const rows: EventRow[] = [];
  for (let i = 0; i < 2500; i++) {
    // Every row in the same second, the case that breaks timestamp cursors.
    rows.push(i % 3 === 0 ? connectionRowFixture({ ts: T0 }) : requestRowFixture({ ts: T0 }));
    if (i % 7 === 0) rows.push(requestRowFixture({ sandboxId: 'sb-other' }));
  }
  events.insertBatch(rows);
  const seen = new Set<number>();
  let cursor: number | undefined;
  let pages = 0;
  for (; pages < 10; pages++) {
    const page = events.networkForSandbox('sb-1', { limit: 1000, cursor });
    for (const e of page.data) {
      assert.ok(!seen.has(e.id), `id ${e.id} repeated`);
      seen.add(e.id);
    }
    assert.equal(page.has_more, page.next_cursor !== null);
    if (!page.has_more) break;
    assert.doesNotMatch(page.next_cursor!, /^\d+$/, 'cursor is opaque, not a bare id');
    cursor = decodeCursor(page.next_cursor!);
    assert.ok(cursor !== undefined);
  }
  assert.equal(pages, 2, 'three pages: 1000, 1000, 500');
  assert.equal(seen.size, 2500);
});

test('network: exact page end has has_more false; shapes per kind', (t) => {
  const { events } = setup(t);
  events.insertBatch([
    connectionRowFixture({ dstIp: null, errorCode: 'host_denied', verdict: 'blocked', bytesSent: 0, bytesRecv: 0 }),
    requestRowFixture({ secretId: 's1', upstreamStatus: null }),
  ]);
  const page = events.networkForSandbox('sb-1', { limit: 2 });
  assert.equal(page.has_more, false);
  assert.equal(page.next_cursor, null);
  assert.deepEqual(page.data, [
    {
      kind: 'request',
      id: 2,
      ts: '2025-01-02T03:04:05.000Z',
      host: 'api.example.com',
      method: 'GET',
      path: '/v1/x',
      status: 200,
      latency_ms: 12,
      secret_id: 's1',
      request_id: '0123456789abcdef01234567',
    },
    {
      kind: 'connection',
      id: 1,
      ts: '2025-01-02T03:04:05.000Z',
      host: 'api.example.com',
      dst_port: 443,
      verdict: 'blocked',
      match_rule: 'allow_out *',
      bytes_sent: 0,
      bytes_recv: 0,
      error_code: 'host_denied',
      request_id: 'fedcba9876543210fedcba98',
    },
  ]);
});

test('network filters: since is inclusive, verdict returns connection rows only', (t) => {
  const { events } = setup(t);
  events.insertBatch([
    connectionRowFixture({ ts: T0, verdict: 'allowed' }),
    requestRowFixture({ ts: T0 + 500 }),
    connectionRowFixture({ ts: T0 + 1000, verdict: 'blocked' }),
    connectionRowFixture({ ts: T0 + 2000, verdict: 'failed' }),
    requestRowFixture({ ts: T0 + 3000 }),
  ]);
  const ids = (options: Parameters<EventsRepository['networkForSandbox']>[1]) => events.networkForSandbox('sb-1', options).data.map((e) => e.id);
  assert.deepEqual(ids({ limit: 10, since: new Date(T0 + 1000) }), [5, 4, 3]);
  assert.deepEqual(ids({ limit: 10, verdict: 'blocked' }), [3]);
  assert.deepEqual(ids({ limit: 10, verdict: 'allowed' }), [1]);
  assert.deepEqual(ids({ limit: 10, verdict: 'failed', since: new Date(T0 + 2001) }), []);
  assert.deepEqual(ids({ limit: 10 }), [5, 4, 3, 2, 1]);
  assert.deepEqual(events.networkForSandbox('sb-none', { limit: 10 }), { data: [], next_cursor: null, has_more: false });
});

test('cursors: round trip, and anything else decodes to undefined', () => {
  assert.equal(decodeCursor(encodeCursor(42)), 42);
  for (const bad of [
    '',
    '42',
    'not base64!',
    Buffer.from('ev1:0').toString('base64url'),
    Buffer.from('ev1:-3').toString('base64url'),
    Buffer.from('xx:5').toString('base64url'),
    'A'.repeat(100),
  ]) {
    assert.equal(decodeCursor(bad), undefined, bad);
  }
});

test('insertBatch is one transaction: a bad row in the middle writes nothing', (t) => {
  const { events, db } = setup(t);
  const bad = connectionRowFixture({ verdict: 'maybe' as EventRow['verdict'] });
  assert.throws(() => events.insertBatch([requestRowFixture(), bad, requestRowFixture()]), /CHECK constraint/);
  assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 0);
});

test('deleteOlderThan deletes only older rows, at most maxRows per call', (t) => {
  const { events, db } = setup(t);
  const old = Array.from({ length: 25 }, (_, i) => requestRowFixture({ ts: T0 - 10_000 + i }));
  events.insertBatch([...old, requestRowFixture({ ts: T0 }), connectionRowFixture({ ts: T0 + 1 })]);
  const cutoff = new Date(T0).toISOString();
  assert.equal(events.deleteOlderThan(cutoff, 10), 10);
  assert.equal(events.deleteOlderThan(cutoff, 10), 10);
  assert.equal(events.deleteOlderThan(cutoff, 10), 5);
  assert.equal(events.deleteOlderThan(cutoff, 10), 0);
  const left = db.prepare('SELECT ts FROM event_rows ORDER BY id').all() as Array<{ ts: number }>;
  assert.deepEqual(
    left.map((r) => r.ts),
    [T0, T0 + 1],
  );
});

test('touchLastUsed sets last_used_at and never moves it backwards', (t) => {
  const { events, db } = setup(t);
  const insert = db.prepare(
    `INSERT INTO secrets (id, name, auth_type, auth_config, hosts, value_enc, created_at, updated_at)
     VALUES (?, ?, 'bearer', '{}', '["a.example.com"]', x'00', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`,
  );
  insert.run('s1', 'one');
  insert.run('s2', 'two');
  const lastUsed = (id: string) => (db.prepare('SELECT last_used_at AS v FROM secrets WHERE id = ?').get(id) as { v: string | null }).v;
  events.touchLastUsed(['s1'], '2025-01-02T00:00:00.000Z');
  assert.equal(lastUsed('s1'), '2025-01-02T00:00:00.000Z');
  assert.equal(lastUsed('s2'), null);
  events.touchLastUsed(new Set(['s1', 's2', 'gone']), '2025-01-01T12:00:00.000Z');
  assert.equal(lastUsed('s1'), '2025-01-02T00:00:00.000Z');
  assert.equal(lastUsed('s2'), '2025-01-01T12:00:00.000Z');
});

test('deleteOlderThan reads only the oldest maxRows rows: an old row recorded late waits for a later sweep', (t) => {
  const { events, db } = setup(t);
  // Ids in write order: two old, one new, then an old one written late (a long request ends).
  events.insertBatch([T0 - 3000, T0 - 2000, T0 + 1000, T0 - 1000].map((ts) => requestRowFixture({ ts })));
  const cutoff = new Date(T0).toISOString();
  assert.equal(events.deleteOlderThan(cutoff, 3), 2);
  const left = () => (db.prepare('SELECT ts FROM event_rows ORDER BY id').all() as Array<{ ts: number }>).map((r) => r.ts - T0);
  assert.deepEqual(left(), [1000, -1000]);
  assert.equal(events.deleteOlderThan(cutoff, 3), 1);
  assert.deepEqual(left(), [1000]);
});

test('the events table has no ts index: retention and the network log do not need one', (t) => {
  const { db } = setup(t);
  const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").all() as Array<{ name: string }>).map(
    (r) => r.name,
  );
  assert.ok(!indexes.includes('events_ts'), indexes.join(', '));
});

test('insertBatch keeps row order and every column across multi-row statements of any size', (t) => {
  const { events, db } = setup(t);
  // 1, 31, 32, 33 and 70 rows: single statements, a full chunk, and chunks with a remainder.
  let next = 0;
  for (const size of [1, 31, 32, 33, 70]) {
    events.insertBatch(
      Array.from({ length: size }, () => {
        const n = next++;
        return n % 3 === 0
          ? connectionRowFixture({ ts: T0 + n, dstPort: n, bytesSent: n })
          : requestRowFixture({ ts: T0 + n, secretId: `s${n}`, status: 200 + n, path: `/p/${n}` });
      }),
    );
  }
  const rows = db.prepare('SELECT * FROM event_rows ORDER BY id').all() as Array<Record<string, unknown>>;
  assert.equal(rows.length, next);
  rows.forEach((row, n) => {
    assert.equal(row.id, n + 1);
    assert.equal(row.ts, T0 + n);
    if (n % 3 === 0) {
      assert.deepEqual([row.kind, row.dst_port, row.bytes_sent, row.bytes_recv, row.verdict, row.path], ['connection', n, n, 20, 'allowed', null]);
    } else {
      assert.deepEqual([row.kind, row.secret_id, row.status, row.path, row.latency_ms, row.dst_port], ['request', `s${n}`, 200 + n, `/p/${n}`, 12, null]);
    }
  });
});

test('insertFlat takes rows flattened by flattenEventRows and refuses a partial row', (t) => {
  const { events, db } = setup(t);
  const values = flattenEventRows([requestRowFixture({ ts: T0, secretId: 's1' }), connectionRowFixture({ ts: T0 + 1 })]);
  assert.equal(flatRowCount(values), 2);
  assert.throws(() => events.insertFlat(values.slice(0, -1)), RangeError);
  events.insertFlat(values);
  const rows = db.prepare('SELECT kind, ts, secret_id, dst_port FROM event_rows ORDER BY id').all();
  assert.deepEqual(rows, [
    { kind: 'request', ts: T0, secret_id: 's1', dst_port: null },
    { kind: 'connection', ts: T0 + 1, secret_id: null, dst_port: 443 },
  ]);
});

test('isoTimestamp is Date#toISOString for epoch milliseconds, across seconds and out of order', () => {
  const instants = [T0, T0 + 1, T0 + 9, T0 + 10, T0 + 99, T0 + 100, T0 + 999, T0 + 1000, T0 - 1, T0 + 0.7, 0, Date.UTC(2099, 11, 31, 23, 59, 59, 999)];
  for (const ms of [...instants, ...instants.reverse()]) assert.equal(isoTimestamp(ms), new Date(ms).toISOString(), String(ms));
});

test('migration 005 rebuilds events with its rows, ids, indexes and id counter, and still checks kind and verdict', (t) => {
  // A database as migration 004 left it, with rows, and its newest row deleted.
  const { path, old } = databaseAt(4, t);
  const insert = old.prepare("INSERT INTO events (kind, ts, sandbox_id, secret_id, status, verdict) VALUES (?, '2025-01-02T03:04:05.000Z', 'sb-1', ?, ?, ?)");
  insert.run('request', 's1', 200, null);
  insert.run('connection', null, null, 'blocked');
  insert.run('request', 's1', 404, null);
  insert.run('request', 's1', 200, null);
  old.exec('DELETE FROM events WHERE id = 4');
  old.close();

  const db = openDatabase(path);
  t.after(() => db.close());
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.deepEqual(db.prepare('SELECT id, kind, secret_id, status, verdict FROM event_rows ORDER BY id').all(), [
    { id: 1, kind: 'request', secret_id: 's1', status: 200, verdict: null },
    { id: 2, kind: 'connection', secret_id: null, status: null, verdict: 'blocked' },
    { id: 3, kind: 'request', secret_id: 's1', status: 404, verdict: null },
  ]);
  const indexes = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name").all() as Array<{ name: string }>
  ).map((r) => r.name);
  assert.deepEqual(indexes, ['events_sandbox', 'events_secret_requests']);
  assert.deepEqual(db.prepare('SELECT name FROM sqlite_sequence').all(), [{ name: 'events' }]);
  const events = new EventsRepository(db);
  events.insertBatch([requestRowFixture({ secretId: 's1' })]);
  // Id 4 was used before the rebuild and is never handed out again.
  assert.deepEqual(
    events.auditForSecret('s1', { limit: 10 }).map((e) => e.id),
    [5, 3, 1],
  );
  assert.throws(() => db.prepare('INSERT INTO events (kind, ts) VALUES (2, 0)').run(), /CHECK constraint failed/);
  assert.throws(() => db.prepare("INSERT INTO events (kind, ts, verdict) VALUES (1, 0, 'maybe')").run(), /CHECK constraint failed/);
});

test('migration 009 stores refs, epoch ms and a kind code, and the API reads back exactly what it read before', (t) => {
  // A database as migration 008 left it, with rows written in the old layout.
  const { path, old } = databaseAt(8, t);
  const columns = `kind ts sandbox_id sandbox_name secret_id host method path status upstream_status latency_ms
    error_code dst_ip dst_port verdict match_rule bytes_sent bytes_recv`.split(/\s+/);
  // The connection row's own columns, as written and as the network log reads them back.
  const blocked = { dst_ip: '203.0.113.7', dst_port: 443, verdict: 'blocked', match_rule: 'deny_out *', bytes_sent: 0, bytes_recv: 0 };
  const insert = old.prepare(`INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
  // Each row names the columns it sets; the others are NULL.
  const insertRow = (row: Record<string, string | number>) => insert.run(Object.fromEntries(columns.map((c) => [c, row[c] ?? null])));
  insertRow({
    kind: 'request',
    ts: '2025-01-02T03:04:05.007Z',
    sandbox_id: 'sb-1',
    sandbox_name: 'one',
    secret_id: 's1',
    host: 'api.example.com',
    method: 'GET',
    path: '/v1/x',
    status: 200,
    upstream_status: 200,
    latency_ms: 12,
  });
  insertRow({
    kind: 'connection',
    ts: '2025-01-02T03:04:05.999Z',
    sandbox_id: 'sb-1',
    sandbox_name: 'one',
    host: 'api.example.com',
    error_code: 'host_denied',
    ...blocked,
  });
  insertRow({
    kind: 'request',
    ts: '2025-01-02T03:04:06.000Z',
    host: 'plain.example.com',
    method: 'POST',
    path: '/',
    status: 502,
    latency_ms: 3,
    error_code: 'upstream_unreachable',
  });
  old.close();

  const db = openDatabase(path);
  t.after(() => db.close());
  assert.deepEqual(db.prepare('SELECT kind, ts, sandbox_ref, secret_ref FROM events ORDER BY id').all(), [
    { kind: 0, ts: Date.UTC(2025, 0, 2, 3, 4, 5, 7), sandbox_ref: 1, secret_ref: 1 },
    { kind: 1, ts: Date.UTC(2025, 0, 2, 3, 4, 5, 999), sandbox_ref: 1, secret_ref: null },
    { kind: 0, ts: Date.UTC(2025, 0, 2, 3, 4, 6), sandbox_ref: null, secret_ref: null },
  ]);
  const events = new EventsRepository(db);
  assert.deepEqual(events.auditForSecret('s1', { limit: 10 }), [auditItem({ id: 1, ts: '2025-01-02T03:04:05.007Z' })]);
  assert.deepEqual(events.networkForSandbox('sb-1', { limit: 10, since: new Date('2025-01-02T03:04:05.500Z') }).data, [
    { kind: 'connection', id: 2, ts: '2025-01-02T03:04:05.999Z', host: 'api.example.com', ...blocked, error_code: 'host_denied' },
  ]);
  // New rows of a known sandbox and secret reuse their refs; the id counter carries on.
  events.insertBatch([requestRowFixture({ sandboxId: 'sb-1', secretId: 's1' }), requestRowFixture({ sandboxId: 'sb-9', secretId: 's9' })]);
  assert.deepEqual(db.prepare('SELECT id, sandbox_ref, secret_ref FROM events WHERE id > 3').all(), [
    { id: 4, sandbox_ref: 1, secret_ref: 1 },
    { id: 5, sandbox_ref: 2, secret_ref: 2 },
  ]);
});

test('the audit and network queries read through the view with the events indexes', (t) => {
  const { db } = setup(t);
  const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
  assert.match(
    plan(`SELECT id FROM event_rows WHERE kind_code = 0 AND secret_ref = (SELECT ref FROM audit_secrets WHERE id = 's1') AND id < 9 ORDER BY id DESC LIMIT 5`),
    /SEARCH e USING (COVERING )?INDEX events_secret_requests/,
  );
  assert.match(
    plan(`SELECT id FROM event_rows WHERE sandbox_ref = (SELECT ref FROM audit_sandboxes WHERE id = 'sb') AND id < 9 ORDER BY id DESC LIMIT 5`),
    /SEARCH e USING (COVERING )?INDEX events_sandbox/,
  );
});
