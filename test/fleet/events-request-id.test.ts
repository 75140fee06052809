import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgres, type PgPool } from '../../src/store/postgres/db.js';
import { PgEventsRepository } from '../../src/store/postgres/events.js';
import { flattenEventRows, INSERT_COLUMNS } from '../../src/store/events.js';
import { connectionRowFixture, requestRowFixture } from '../helpers/event-rows.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';

// The control plane's ingest of sidecar outbox rows keeps each row's request id, and still takes
// rows from sidecars built before request ids (one value fewer), so the control plane can be
// upgraded first.

const skip = postgresSkipReason();
let pool: PgPool;
let events: PgEventsRepository;

before(async () => {
  if (skip) return;
  pool = await openPostgres({ url: await (await testPostgres()).createDatabase(), poolSize: 2 });
  events = new PgEventsRepository(pool, { retentionDays: 7 });
});

after(async () => {
  await pool?.end();
});

/** Outbox rows as a sidecar ships them: local id, then the INSERT_COLUMNS values, ts in epoch ms. */
function shipped(rows: ReturnType<typeof requestRowFixture>[], firstId: number): unknown[][] {
  const flat = flattenEventRows(rows);
  return rows.map((_, i) => [firstId + i, ...flat.slice(i * INSERT_COLUMNS.length, (i + 1) * INSERT_COLUMNS.length)]);
}

test('request ids survive the outbox → control plane hop; rows from older sidecars land without one', { skip }, async () => {
  const now = Date.now();
  const current = shipped(
    [
      requestRowFixture({ ts: now, sandboxId: 'sb-fleet', secretId: 's-fleet', requestId: 'aaaaaaaaaaaaaaaaaaaaaaaa' }),
      connectionRowFixture({ ts: now, sandboxId: 'sb-fleet', requestId: 'bbbbbbbbbbbbbbbbbbbbbbbb' }),
    ],
    1,
  );
  assert.equal(await events.ingest('sidecar-new', current), 2);
  // A sidecar from before request ids sends one value fewer a row.
  const legacy = shipped([requestRowFixture({ ts: now + 1, sandboxId: 'sb-fleet', secretId: 's-fleet' })], 1).map((row) => row.slice(0, -1));
  assert.equal(await events.ingest('sidecar-old', legacy), 1);

  const audit = await events.auditForSecret('s-fleet', { limit: 10 });
  assert.deepEqual(
    audit.map((r) => r.request_id),
    [undefined, 'aaaaaaaaaaaaaaaaaaaaaaaa'],
  );
  const network = await events.networkForSandbox('sb-fleet', { limit: 10 });
  assert.deepEqual(
    network.data.map((r) => [r.kind, r.request_id]),
    [
      ['request', undefined],
      ['connection', 'bbbbbbbbbbbbbbbbbbbbbbbb'],
      ['request', 'aaaaaaaaaaaaaaaaaaaaaaaa'],
    ],
  );
  // Any other width is still refused whole.
  await assert.rejects(events.ingest('sidecar-bad', [current[0]!.slice(0, -2)]), { code: 'event_batch_invalid' });
});
