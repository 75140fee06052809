import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRetention } from '../../../src/audit/retention.js';
import { EventsRepository } from '../../../src/store/events.js';
import { connectionRowFixture, memoryLogger, requestRowFixture, tempDatabase } from '../../helpers/event-rows.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 15, 12);

test('retention deletes rows older than retentionDays only, in several small statements', async (t) => {
  const { db, cleanup } = tempDatabase();
  t.after(cleanup);
  const repo = new EventsRepository(db);
  repo.insertBatch([
    ...Array.from({ length: 30 }, (_, i) => requestRowFixture({ ts: NOW - 8 * DAY - i })),
    connectionRowFixture({ ts: NOW - 7 * DAY - 1 }),
    requestRowFixture({ ts: NOW - 7 * DAY }),
    requestRowFixture({ ts: NOW - DAY }),
    connectionRowFixture({ ts: NOW }),
  ]);
  let statements = 0;
  const events = {
    deleteOlderThan(isoTs: string, maxRows?: number) {
      statements++;
      return repo.deleteOlderThan(isoTs, maxRows);
    },
  };
  const { logger, lines } = memoryLogger();
  const retention = startRetention(events, { config: { audit: { retentionDays: 7 } }, logger, batchSize: 8, now: () => NOW });
  t.after(() => retention.stop());
  const deleted = await retention.sweep();
  // Called before the start-up sweep's setImmediate fires, so this sweep does all the work.
  const remaining = db.prepare('SELECT ts FROM events ORDER BY id').all() as Array<{ ts: string }>;
  assert.deepEqual(remaining.map((r) => r.ts), [NOW - 7 * DAY, NOW - DAY, NOW].map((ms) => new Date(ms).toISOString()));
  assert.equal(deleted, 31);
  assert.ok(statements >= 4, `31 rows in batches of 8 take at least 4 statements, got ${statements}`);
  assert.ok(lines.some((l) => l.msg === 'audit retention sweep' && l.deleted === 31));
});

test('stop() cancels the schedule; the process is not held open', async () => {
  const { logger } = memoryLogger();
  let calls = 0;
  const retention = startRetention(
    { deleteOlderThan: () => { calls++; return 0; } },
    { config: { audit: { retentionDays: 1 } }, logger, intervalMs: 5 },
  );
  retention.stop();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(calls, 0);
});
