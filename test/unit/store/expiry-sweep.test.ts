import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/log/logger.js';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import { startExpirySweep } from '../../../src/store/expiry-sweep.js';
import { openStore } from '../../../src/store/index.js';
import { eventually, LogSink } from '../../helpers/harness/index.js';

test('the expiry sweep deletes expired sandboxes on its interval and logs each at info; a failing sweep is logged, not thrown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-sweep-'));
  const store = openStore({ dataDir: dir, cipher: new SecretCipher(randomBytes(32)) });
  const logs = new LogSink();
  const logger = createLogger({ level: 'info', destination: logs });
  const sweep = startExpirySweep(store.sandboxes, { logger, intervalMs: 50 });
  t.after(() => {
    sweep.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = { secrets: {}, env_vars: {}, network: { allow_out: [], deny_out: [] }, metadata: {} };
  const brief = store.sandboxes.create({ ...base, name: 'brief', expires_at: new Date(Date.now() + 200).toISOString() });
  const kept = store.sandboxes.create({ ...base, name: 'kept' });
  await eventually('the sweep', () => store.ruleSource.getSandbox(brief.id) === undefined, 3000);
  assert.ok(store.ruleSource.getSandbox(kept.id), 'a sandbox without expiry stays');
  const line = logs.entries().find((e) => e.msg === 'sandbox expired and deleted');
  assert.deepEqual({ id: line?.sandbox_id, name: line?.sandbox_name, level: line?.level }, { id: brief.id, name: 'brief', level: 'info' });

  const failing = startExpirySweep(
    {
      sweepExpired: () => {
        throw new Error('database is locked');
      },
    },
    { logger, intervalMs: 50 },
  );
  t.after(() => failing.stop());
  await eventually('the failure line', () => logs.entries().find((e) => e.msg === 'sandbox expiry sweep failed'), 3000);
});
