import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.js';

const load = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => loadConfig({ env, cwd: '/tmp', flags });

test('standalone is the default role and needs no fleet key', () => {
  assert.equal(load({}).fleet.role, 'standalone');
});

test('each role names the keys it cannot start without', () => {
  assert.throws(() => load({ 'fleet.role': 'control' }), { code: 'config_invalid', key: 'fleet.databaseUrl' });
  assert.throws(() => load({ 'fleet.role': 'control', 'fleet.databaseUrl': 'postgres://db/credproxy' }), { key: 'masterKey' });
  assert.throws(
    () => load({ 'fleet.role': 'control', 'fleet.databaseUrl': 'postgres://db/x', masterKey: Buffer.alloc(32).toString('base64') }),
    (err: Error & { key: string }) => err.key === 'admin.apiKey' && /required when fleet.role is control/.test(err.message),
  );
  assert.throws(() => load({ 'fleet.role': 'sidecar' }), { key: 'fleet.controlUrl' });
  assert.throws(() => load({ 'fleet.role': 'sidecar', 'fleet.controlUrl': 'http://control:8081' }), { key: 'fleet.sidecarToken' });
  assert.throws(() => load({ 'fleet.role': 'leader' }), { key: 'fleet.role' });
  assert.throws(() => load({ 'fleet.databaseUrl': 'mysql://db' }), { key: 'fleet.databaseUrl' });
});

test('the fleet keys come from env as well', () => {
  const config = load(
    {},
    {
      CREDPROXY_ROLE: 'sidecar',
      CREDPROXY_CONTROL_URL: 'http://control:8081',
      CREDPROXY_SIDECAR_TOKEN: 'cpsc_0123456789abcdef0123',
    },
  );
  assert.equal(config.fleet.role, 'sidecar');
  assert.equal(config.fleet.controlUrl, 'http://control:8081');
});
