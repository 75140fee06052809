import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgres, type PgPool } from '../../src/store/postgres/db.js';
import { PgEventsRepository } from '../../src/store/postgres/events.js';
import { partitionName } from '../../src/store/postgres/index.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';

// The control plane's audit table on a throwaway PostgreSQL: idempotent ingest, a partition per
// UTC day, retention by dropping whole partitions.

const skip = postgresSkipReason();
const DAY_MS = 24 * 60 * 60 * 1000;
let pool: PgPool;

before(async () => {
  if (skip) return;
  pool = await openPostgres({ url: await (await testPostgres()).createDatabase(), poolSize: 4 });
});
after(() => pool?.end());

/** error_code, dst_ip, dst_port, verdict, match_rule, bytes_sent, bytes_recv: a request row leaves them empty. */
const REQUEST_ROW_NULLS = Array<null>(7).fill(null);
/** A request row as a sidecar ships it: local id, then the INSERT_COLUMNS values. */
const row = (id: number, ts: number, status = 200) => {
  const request = ['request', ts, 'sb-1', 'sb', 'sec-1', 'api.example.test', 'GET', '/x', status, status, 5];
  return [id, ...request, ...REQUEST_ROW_NULLS];
};

test('a batch sent twice lands once; rows of several days go to their own partitions', { skip }, async () => {
  const events = new PgEventsRepository(pool, { retentionDays: 7 });
  const now = Date.now();
  const batch = [row(1, now), row(2, now - 2 * DAY_MS), row(3, now - 3 * DAY_MS, 503)];
  assert.equal(await events.ingest('a/inst1', batch), 3);
  assert.equal(await events.ingest('a/inst1', batch), 0, 'at least once, de-duplicated on insert');
  assert.equal(await events.ingest('b/inst1', [row(1, now)]), 1, 'the same local id from another sidecar is another row');
  const { rows } = await pool.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1",
  );
  const day = (ms: number) => partitionName(Math.floor(ms / DAY_MS));
  assert.deepEqual(
    rows.map((r) => r.name),
    [day(now - 3 * DAY_MS), day(now - 2 * DAY_MS), day(now)],
  );
  const audit = await events.auditForSecret('sec-1', { limit: 10, status: 'errors' });
  assert.deepEqual(
    audit.map((r) => r.status),
    [503],
  );
  const page = await events.networkForSandbox('sb-1', { limit: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.has_more, true);
  const rest = await events.networkForSandbox('sb-1', { limit: 2, cursor: Number(Buffer.from(page.next_cursor!, 'base64url').toString().slice(4)) });
  assert.equal(rest.data.length, 2);
  assert.equal(rest.has_more, false);
});

test('retention drops whole partitions past retentionDays and skips rows already past it', { skip }, async () => {
  const events = new PgEventsRepository(pool, { retentionDays: 2 });
  const now = Date.now();
  assert.equal(await events.ingest('c/inst1', [row(1, now - 5 * DAY_MS)]), 0, 'past retention: not inserted');
  const dropped = await events.dropExpiredPartitions(now);
  assert.deepEqual(dropped, [partitionName(Math.floor((now - 3 * DAY_MS) / DAY_MS))]);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
  assert.equal(Number(rows[0]!.n), 3);
});

test('a malformed batch is refused whole', { skip }, async () => {
  const events = new PgEventsRepository(pool, { retentionDays: 7 });
  await assert.rejects(events.ingest('a/inst1', [[1, 'request']]), { code: 'event_batch_invalid' });
  await assert.rejects(events.ingest('a/inst1', [row(9, Date.now()).map((v, i) => (i === 9 ? 'two hundred' : v))]), {
    code: 'event_batch_invalid',
    message: /status/,
  });
  await assert.rejects(events.ingest('a/inst1', [row(9, Date.now()).map((v, i) => (i === 1 ? 'other' : v))]), { code: 'event_batch_invalid' });
});
