import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerAuditSink } from '../../../src/audit/worker-sink.js';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import { openStore } from '../../../src/store/index.js';
import { memoryLogger, requestRowFixture } from '../../helpers/event-rows.js';

const BATCHES = 300;
const WRITES = 300;

test('admin writes while the audit writer thread commits batch after batch: each waits for the lock, none fails with SQLITE_BUSY', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-busy-'));
  const store = openStore({ dataDir: dir, cipher: new SecretCipher(randomBytes(32)) });
  const sink = new WorkerAuditSink({ path: store.db.name, logger: memoryLogger().logger });
  t.after(async () => {
    await sink.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await sink.ready;
  store.secrets.create({ name: 'k', value: 'real-value', provider: null, authType: 'bearer', authConfig: {}, hosts: ['api.example.com'] });
  const rows = Array.from({ length: 100 }, () => requestRowFixture());
  // A backlog the writer works through on its own core while this thread writes too.
  for (let i = 0; i < BATCHES; i++) sink.insertBatch(rows);
  const failures: string[] = [];
  for (let i = 0; i < WRITES && sink.pending > 0; i++) {
    try {
      // Each reads (the secret, the binding at the key) before it writes.
      const sandbox = store.sandboxes.create({ name: `sb-${i}`, secrets: { A: 'k' }, env_vars: {}, network: { allow_out: [], deny_out: [] }, metadata: {} });
      store.sandboxes.attach(sandbox.id, 'B', 'k');
      store.sandboxes.detach(sandbox.id, 'A');
    } catch (err) {
      failures.push((err as { code?: string }).code ?? String(err));
    }
  }
  assert.deepEqual(failures, []);
});
