import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditQueue, type AuditSink, type AuditSinkFailure } from '../../../src/audit/queue.js';
import { EventsRepository, type EventRow } from '../../../src/store/events.js';
import { memoryLogger, requestRowFixture, tempDatabase } from '../../helpers/event-rows.js';

/** Records every call the queue makes, optionally failing inserts. */
function recordingSink(options: { fail?: boolean } = {}) {
  const batches: EventRow[][] = [];
  const touches: Array<{ ids: string[]; ts: string }> = [];
  const sink: AuditSink = {
    insertBatch(rows) {
      if (options.fail) throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
      batches.push([...rows]);
    },
    touchLastUsed(ids, ts) {
      touches.push({ ids: [...ids], ts });
    },
  };
  return { sink, batches, touches };
}

function config(queueSize: number, flushIntervalMs = 1000) {
  return { audit: { queueSize, flushIntervalMs } };
}

test('a full queue drops and counts instead of blocking', (t) => {
  const { sink, batches } = recordingSink();
  const queue = new AuditQueue(sink, { config: config(100), logger: memoryLogger().logger, batchSize: 1000 });
  t.after(() => queue.close());
  const started = process.hrtime.bigint();
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) if (queue.push(requestRowFixture({ path: `/${i}` }))) accepted++;
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(accepted, 100);
  assert.equal(queue.depth, 100);
  assert.equal(queue.dropped, 9_900);
  assert.equal(batches.length, 0, 'push never writes');
  // Generous bound: 10k pushes are ~1 ms; this only catches a push that waits on I/O.
  assert.ok(elapsedMs < 500, `10k pushes took ${elapsedMs} ms`);
});

test('reaching the batch size flushes on the next turn, one insert per batch', async (t) => {
  const { sink, batches } = recordingSink();
  const queue = new AuditQueue(sink, { config: config(10_000), logger: memoryLogger().logger, batchSize: 500 });
  t.after(() => queue.close());
  for (let i = 0; i < 1_200; i++) queue.push(requestRowFixture({ path: `/${i}` }));
  assert.equal(batches.length, 0, 'nothing written inside push');
  // Drains batch by batch, yielding between; bounded wait.
  for (let i = 0; i < 50 && queue.depth > 0; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    batches.map((b) => b.length),
    [500, 500, 200],
  );
  assert.deepEqual(
    batches.flat().map((r) => r.path),
    Array.from({ length: 1_200 }, (_, i) => `/${i}`),
    'order kept',
  );
});

test('the timer flushes a partial batch within flushIntervalMs', async (t) => {
  const { sink, batches } = recordingSink();
  const queue = new AuditQueue(sink, { config: config(1000, 20), logger: memoryLogger().logger });
  t.after(() => queue.close());
  queue.push(requestRowFixture());
  queue.push(requestRowFixture());
  for (let i = 0; i < 50 && batches.length === 0; i++) await sleep(10);
  assert.deepEqual(
    batches.map((b) => b.length),
    [2],
  );
});

test('close() writes every pushed row synchronously to SQLite, in batches; later pushes are dropped', (t) => {
  const { db, cleanup } = tempDatabase();
  t.after(cleanup);
  const repo = new EventsRepository(db);
  let inserts = 0;
  const sink: AuditSink = {
    insertBatch(rows) {
      inserts++;
      repo.insertBatch(rows);
    },
    touchLastUsed: (ids, ts) => repo.touchLastUsed(ids, ts),
  };
  const queue = new AuditQueue(sink, { config: config(5_000), logger: memoryLogger().logger, batchSize: 500 });
  for (let i = 0; i < 2_345; i++) queue.push(requestRowFixture({ secretId: 's1' }));
  queue.close();
  assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 2_345);
  assert.equal(inserts, 5);
  assert.equal(queue.depth, 0);
  assert.equal(queue.push(requestRowFixture()), false);
  assert.equal(queue.dropped, 1);
  queue.close();
});

test('last_used_at: one update per batch with the latest time of the batch', () => {
  const { sink, touches } = recordingSink();
  const queue = new AuditQueue(sink, { config: config(100), logger: memoryLogger().logger });
  queue.markUsed('s1', Date.UTC(2025, 0, 1));
  queue.markUsed('s2', Date.UTC(2025, 0, 3));
  queue.markUsed('s1', Date.UTC(2025, 0, 2));
  queue.push(requestRowFixture());
  queue.close();
  assert.deepEqual(touches, [{ ids: ['s1', 's2'], ts: '2025-01-03T00:00:00.000Z' }]);
});

test('a failing write is logged without row contents, counted, and does not throw', async (t) => {
  const { sink } = recordingSink({ fail: true });
  const { logger, lines } = memoryLogger();
  const queue = new AuditQueue(sink, { config: config(100, 10), logger });
  t.after(() => queue.close());
  queue.push(requestRowFixture({ path: '/planted-canary-path', host: 'canary.example' }));
  for (let i = 0; i < 50 && lines.length === 0; i++) await sleep(10);
  assert.equal(queue.dropped, 1);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'error');
  const text = JSON.stringify(lines);
  assert.match(text, /SQLITE_FULL/);
  assert.doesNotMatch(text, /canary/);
  assert.doesNotThrow(() => queue.close());
});

test("a sink's pending rows count toward depth and queueSize; failures it reports later are counted and logged", () => {
  const { sink } = recordingSink();
  let pending = 0;
  let report: ((failure: AuditSinkFailure) => void) | undefined;
  const threaded: AuditSink = {
    ...sink,
    get pending() {
      return pending;
    },
    setFailureHandler: (handler) => (report = handler),
  };
  const { logger, lines } = memoryLogger();
  const queue = new AuditQueue(threaded, { config: config(10), logger });
  pending = 8;
  assert.equal(queue.depth, 8);
  assert.equal(queue.push(requestRowFixture()), true);
  assert.equal(queue.push(requestRowFixture()), true);
  assert.equal(queue.push(requestRowFixture()), false, 'queue + sink hold queueSize rows');
  report!({ op: 'insert', count: 5, err: { code: 'SQLITE_IOERR', message: 'disk I/O error' } });
  report!({ op: 'insert', count: 3 }); // already logged by the sink
  report!({ op: 'touch', count: 2, err: { message: 'database is locked' } });
  assert.equal(queue.dropped, 1 + 5 + 3);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.count]),
    [
      ['audit batch write failed; rows dropped', 5],
      ['last_used_at update failed', 2],
    ],
  );
  queue.close();
});
