import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteInBatches, startRetention } from '../../../src/audit/retention.js';
import { WorkerAuditSink } from '../../../src/audit/worker-sink.js';
import { EventsRepository } from '../../../src/store/events.js';
import { connectionRowFixture, memoryLogger, requestRowFixture, tempDatabase } from '../../helpers/event-rows.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 15, 12);

test('retention sweeps on the writer thread: rows older than retentionDays go, newer ones and rows written meanwhile stay', async (t) => {
  const { db, path, cleanup } = tempDatabase();
  const { logger, lines } = memoryLogger();
  const sink = new WorkerAuditSink({ path, logger });
  t.after(async () => {
    await sink.close();
    cleanup();
  });
  await sink.ready;
  new EventsRepository(db).insertBatch([
    ...Array.from({ length: 1200 }, (_, i) => requestRowFixture({ ts: NOW - 8 * DAY - i })),
    connectionRowFixture({ ts: NOW - 7 * DAY - 1 }),
    requestRowFixture({ ts: NOW - 7 * DAY }),
    requestRowFixture({ ts: NOW - DAY }),
    connectionRowFixture({ ts: NOW }),
  ]);
  const retention = startRetention(sink, { config: { audit: { retentionDays: 7 } }, logger, now: () => NOW });
  t.after(() => retention.stop());
  const sweeping = retention.sweep();
  // Posted after the sweep began: written between its batches, never held back or deleted.
  sink.insertBatch([requestRowFixture({ ts: NOW, path: '/meanwhile' })]);
  // Called before the start-up sweep's setImmediate fires, so this sweep does all the work.
  assert.equal(await sweeping, 1201);
  const remaining = db.prepare('SELECT ts, path FROM event_rows ORDER BY id').all() as Array<{ ts: number; path: string | null }>;
  assert.deepEqual(
    remaining.map((r) => r.ts),
    [NOW - 7 * DAY, NOW - DAY, NOW, NOW],
  );
  assert.equal(remaining.at(-1)!.path, '/meanwhile');
  assert.ok(lines.some((l) => l.msg === 'audit retention sweep' && l.deleted === 1201 && typeof l.ms === 'number'));
});

test('a sweep deletes in statements of batchRows, resting between them, and stops when asked', async () => {
  const deletes: number[] = [];
  let left = 25;
  const events = {
    deleteOlderThan(_isoTs: string, maxRows = 0) {
      const deleted = Math.min(left, maxRows);
      left -= deleted;
      deletes.push(deleted);
      return deleted;
    },
  };
  assert.equal(await deleteInBatches(events, 'cutoff', { batchRows: 8 }), 25);
  assert.deepEqual(deletes, [8, 8, 8, 1]);
  left = 100;
  deletes.length = 0;
  let stop = false;
  const stopping = deleteInBatches(events, 'cutoff', { batchRows: 10, stopped: () => stop });
  stop = true;
  assert.equal(await stopping, 10, 'the statement under way finishes, no further one starts');
});

test('a sweep that fails is logged and resolves to 0; stop() cancels the schedule and does not hold the process', async () => {
  const { logger, lines } = memoryLogger();
  let calls = 0;
  const failing = startRetention({ deleteOlderThan: () => Promise.reject(new Error('disk I/O error')) }, { config: { audit: { retentionDays: 1 } }, logger });
  assert.equal(await failing.sweep(), 0);
  failing.stop();
  assert.ok(lines.some((l) => l.msg === 'audit retention sweep failed'));
  const retention = startRetention(
    {
      deleteOlderThan: () => {
        calls++;
        return Promise.resolve(0);
      },
    },
    { config: { audit: { retentionDays: 1 } }, logger, intervalMs: 5 },
  );
  retention.stop();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(calls, 0);
});
