import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { AuditQueue } from '../../../src/audit/queue.js';
import { WorkerAuditSink } from '../../../src/audit/worker-sink.js';
import type { EventRow } from '../../../src/store/events.js';
import { memoryLogger, requestRowFixture, tempDatabase } from '../../helpers/event-rows.js';

const CONFIG = { audit: { queueSize: 10_000, flushIntervalMs: 10 } };

/** A migrated database and a started writer on it; both closed at test end. */
async function setup(t: { after(fn: () => unknown): void }) {
  const temp = tempDatabase();
  const { logger, lines } = memoryLogger();
  const sink = new WorkerAuditSink({ path: temp.path, logger });
  t.after(async () => {
    await sink.close();
    temp.cleanup();
  });
  await sink.ready;
  const count = () => (temp.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  return { ...temp, sink, logger, lines, count };
}

test('rows land in order; close() resolves only after everything handed over is written', async (t) => {
  const { db, sink, logger, lines } = await setup(t);
  db.prepare(
    `INSERT INTO secrets (id, name, auth_type, auth_config, hosts, value_enc, created_at, updated_at)
              VALUES ('s1', 'one', 'bearer', '{}', '[]', x'00', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`,
  ).run();
  const queue = new AuditQueue(sink, { config: CONFIG, logger });
  for (let i = 0; i < 1_234; i++) queue.push(requestRowFixture({ path: `/${i}`, ts: Date.UTC(2025, 0, 2) + i }));
  queue.markUsed('s1', Date.UTC(2025, 0, 3));
  queue.close();
  assert.ok(queue.depth > 0, 'handed over, not written yet: the sink counts it');
  await sink.close();
  assert.equal(queue.depth, 0);
  const paths = db.prepare('SELECT path FROM event_rows ORDER BY id').all() as Array<{ path: string }>;
  assert.deepEqual(
    paths.map((r) => r.path),
    Array.from({ length: 1_234 }, (_, i) => `/${i}`),
  );
  assert.equal((db.prepare('SELECT ts FROM event_rows WHERE id = 2').get() as { ts: number }).ts, Date.UTC(2025, 0, 2) + 1);
  assert.equal((db.prepare(`SELECT last_used_at FROM secrets WHERE id = 's1'`).get() as { last_used_at: string }).last_used_at, '2025-01-03T00:00:00.000Z');
  assert.equal(queue.dropped, 0);
  assert.deepEqual(lines, []);
  await sink.close(); // idempotent
});

test('the timer-driven flush reaches the database without close()', async (t) => {
  const { sink, logger, count } = await setup(t);
  const queue = new AuditQueue(sink, { config: CONFIG, logger });
  t.after(() => queue.close());
  queue.push(requestRowFixture());
  queue.push(requestRowFixture());
  // Up to 20 s: on a loaded machine the writer thread's start-up alone has taken over 5 s. The
  // writer commits before it acknowledges, so the rows can be visible while the queue still counts them.
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && (count() < 2 || queue.depth > 0);) await sleep(10);
  assert.equal(count(), 2);
  assert.equal(queue.depth, 0);
});

test('a failed transaction is counted and logged by the queue, without row contents; later rows still land', async (t) => {
  const { sink, logger, lines, count } = await setup(t);
  const queue = new AuditQueue(sink, { config: CONFIG, logger, batchSize: 10 });
  const bad = requestRowFixture({ kind: 'bogus' as EventRow['kind'], host: 'canary.example', path: '/planted-canary-path' });
  for (let i = 0; i < 9; i++) queue.push(requestRowFixture({ host: 'canary.example' }));
  queue.push(bad); // the whole batch of 10 fails the CHECK constraint
  for (let i = 0; i < 3; i++) queue.push(requestRowFixture());
  queue.close();
  await sink.close();
  assert.equal(count(), 3);
  assert.equal(queue.dropped, 10);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'error');
  assert.equal(lines[0]!.msg, 'audit batch write failed; rows dropped');
  assert.equal(lines[0]!.count, 10);
  const text = JSON.stringify(lines);
  assert.match(text, /SQLITE_CONSTRAINT_CHECK/);
  assert.doesNotMatch(text, /canary/);
});

test('a writer that cannot start rejects ready, is logged once, and every row is dropped and counted', async (t) => {
  const temp = tempDatabase();
  t.after(temp.cleanup);
  const path = join(temp.path, '..', 'not-a-file');
  mkdirSync(path); // opening a directory as the database fails inside the worker
  const { logger, lines } = memoryLogger();
  const sink = new WorkerAuditSink({ path, logger });
  await assert.rejects(sink.ready, /audit writer could not start: EISDIR/);
  const queue = new AuditQueue(sink, { config: CONFIG, logger, batchSize: 10 });
  for (let i = 0; i < 25; i++) queue.push(requestRowFixture({ path: '/planted-canary-path' }));
  queue.close();
  await sink.close();
  assert.equal(queue.dropped, 25);
  assert.equal(queue.depth, 0);
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['audit writer stopped; audit rows are dropped from now on'],
  );
  assert.doesNotMatch(JSON.stringify(lines), /canary/);
});

test('a writer that dies mid-run does not take the host down: rows in flight and later rows are counted', async (t) => {
  const { logger, lines, count, ...temp } = await setupCapturingWorker(t);
  const queue = new AuditQueue(temp.sink, { config: CONFIG, logger, batchSize: 100 });
  for (let i = 0; i < 500; i++) queue.push(requestRowFixture({ path: '/planted-canary-path' }));
  for (let i = 0; i < 10 && temp.sink.pending === 0; i++) await new Promise((resolve) => setImmediate(resolve));
  const worker = temp.worker();
  worker.ref(); // so that awaiting its end keeps this test's event loop alive
  await worker.terminate(); // stands in for a crash: exit code 1, whatever was in flight
  for (let i = 0; i < 200; i++) queue.push(requestRowFixture());
  queue.close();
  await temp.sink.close();
  assert.equal(queue.depth, 0);
  // A batch committed just before the kill may be counted lost too (its reply never came).
  assert.ok(count() + queue.dropped >= 700, `${count()} written + ${queue.dropped} dropped`);
  assert.ok(queue.dropped >= 200);
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['audit writer stopped; audit rows are dropped from now on'],
  );
  assert.doesNotMatch(JSON.stringify(lines), /canary/);
});

/** setup(), also capturing the sink's Worker (the only way a test can kill it). */
async function setupCapturingWorker(t: Parameters<typeof setup>[0] & { mock: import('node:test').MockTracker }) {
  let captured: Worker | undefined;
  const unref = Worker.prototype.unref;
  t.mock.method(Worker.prototype, 'unref', function (this: Worker) {
    captured = this;
    unref.call(this);
  });
  const context = await setup(t);
  t.mock.restoreAll();
  return { ...context, worker: () => captured! };
}
