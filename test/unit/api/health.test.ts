import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { healthRoutes } from '../../../src/api/routes/health.js';

test('/readyz is 503 naming the failing check while /healthz stays 200', async () => {
  const checks = { proxy: true, audit: true };
  const app = Fastify();
  healthRoutes(app, () => checks);
  try {
    assert.equal((await app.inject('/readyz')).statusCode, 200);
    checks.audit = false;
    const failing = await app.inject('/readyz');
    assert.equal(failing.statusCode, 503);
    assert.deepEqual(failing.json(), { status: 'not_ready', checks: { proxy: 'ok', audit: 'failing' } });
    const live = await app.inject('/healthz');
    assert.deepEqual([live.statusCode, live.json()], [200, { status: 'ok' }]);
  } finally {
    await app.close();
  }
});
