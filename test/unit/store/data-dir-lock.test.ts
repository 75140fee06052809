import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { holdingDataDir, lockDataDir } from '../../../src/store/data-dir-lock.js';

test("one lock per data dir: a second holder is refused with the first one's pid until it releases", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lock = lockDataDir(dir);
  assert.throws(
    () => lockDataDir(dir),
    (err: { code: string; key: string; message: string }) =>
      err.code === 'config_invalid' && err.key === 'dataDir' && err.message.includes(`(pid ${process.pid})`),
  );
  lock.release();
  lock.release();
  assert.equal(existsSync(join(dir, 'credproxy.pid')), false, 'the pid file goes with the lock');
  lockDataDir(dir).release();
});

test('holdingDataDir releases the lock when what it started closes, or fails to start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(
    holdingDataDir(dir, () => Promise.reject(new Error('no start'))),
    /no start/,
  );
  const running = await holdingDataDir(dir, async () => ({ close: async () => undefined }));
  await assert.rejects(
    holdingDataDir(dir, async () => ({ close: async () => undefined })),
    { key: 'dataDir' },
  );
  await running.close();
  await (await holdingDataDir(dir, async () => ({ close: async () => undefined }))).close();
});
