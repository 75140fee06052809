import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveConfig } from '../../../src/config/load.js';
import { ENV_KEYS } from '../../../src/config/schema.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'credproxy-config-'));

test('built-in defaults match the contract', () => {
  const config = loadConfig({ env: {}, cwd: tmp() });
  assert.equal(config.proxy.listen, '127.0.0.1:8080');
  assert.equal(config.admin.listen, '127.0.0.1:8081');
  assert.equal(config.proxy.requireAuth, true);
  assert.equal(config.egress.allowPrivateNetworks, false);
  assert.equal(config.admin.metricsAuth, false);
  assert.equal(config.log.level, 'info');
  assert.equal(config.audit.retentionDays, 7);
  assert.deepEqual(config.upstream.resolve, []);
  assert.ok(config.dataDir.endsWith('/data'));
  assert.ok(config.ca.cert.endsWith('/certs/ca.crt'));
  assert.ok(config.ca.key.endsWith('/certs/ca.key'));
});

test('flags override env, env overrides the file, the file overrides defaults', () => {
  const dir = tmp();
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'proxy:\n  listen: 127.0.0.1:1001\nadmin:\n  listen: 127.0.0.1:2001\nlog:\n  level: warn\naudit:\n  retentionDays: 3\n');
  const config = loadConfig({
    file,
    cwd: dir,
    env: { CREDPROXY_ADMIN_LISTEN: '127.0.0.1:2002', CREDPROXY_LOG_LEVEL: 'debug' },
    flags: { 'log.level': 'error' },
  });
  assert.equal(config.proxy.listen, '127.0.0.1:1001');
  assert.equal(config.admin.listen, '127.0.0.1:2002');
  assert.equal(config.log.level, 'error');
  assert.equal(config.audit.retentionDays, 3);
});

test('resolveConfig says where each key came from, and which values of the file were taken over', () => {
  const dir = tmp();
  const file = join(dir, 'c.yaml');
  // proxy.listen differs from the default in the file: overriding it is worth a warning; the
  // file's log.level equals the default, so the variable overriding it is not.
  writeFileSync(file, 'proxy:\n  listen: 127.0.0.1:1001\nlog:\n  level: info\n');
  const { origins } = resolveConfig({
    file,
    cwd: dir,
    env: { CREDPROXY_PROXY_LISTEN: '0.0.0.0:8080', CREDPROXY_LOG_LEVEL: 'debug' },
    flags: { dataDir: 'state' },
  });
  assert.equal(origins.file, file);
  assert.deepEqual(Object.fromEntries(origins.keys), {
    'proxy.listen': 'CREDPROXY_PROXY_LISTEN',
    'log.level': 'CREDPROXY_LOG_LEVEL',
    dataDir: 'command line',
  });
  assert.deepEqual(origins.overridden, [{ key: 'proxy.listen', by: 'CREDPROXY_PROXY_LISTEN', over: file }]);
});

test('every tuning key can be set from the environment, with its type', () => {
  const env = Object.fromEntries(ENV_KEYS.filter((k) => k.kind === 'int' && !k.key.startsWith('fleet.')).map((k) => [k.env, '4096']));
  const config = loadConfig({ cwd: tmp(), env: { ...env, CREDPROXY_AUDIT_RETENTION_DAYS: '30', CREDPROXY_AUDIT_FLUSH_INTERVAL_MS: '500' } });
  assert.equal(config.proxy.idleTimeoutMs, 4096);
  assert.equal(config.upstream.headersTimeoutMs, 4096);
  assert.equal(config.audit.queueSize, 4096);
  assert.equal(config.audit.flushIntervalMs, 500);
  assert.throws(
    () => loadConfig({ cwd: tmp(), env: { CREDPROXY_PROXY_DRAIN_TIMEOUT_MS: 'soon' } }),
    /proxy\.drainTimeoutMs: expected a whole number \(from CREDPROXY_PROXY_DRAIN_TIMEOUT_MS="soon"\)/,
  );
  assert.equal(loadConfig({ cwd: tmp(), env: { CREDPROXY_METRICS_LISTEN: '127.0.0.1:9464' } }).metrics.listen, '127.0.0.1:9464');
});

test('CREDPROXY_CONFIG names the file when no flag does', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'x.yaml'), 'egress:\n  allowPrivateNetworks: true\n');
  assert.equal(loadConfig({ cwd: dir, env: { CREDPROXY_CONFIG: 'x.yaml' } }).egress.allowPrivateNetworks, true);
});

test('env values are parsed by type: booleans, integers, resolve lists', () => {
  const config = loadConfig({
    cwd: tmp(),
    env: {
      CREDPROXY_REQUIRE_PROXY_AUTH: 'false',
      CREDPROXY_METRICS_AUTH: '1',
      CREDPROXY_AUDIT_RETENTION_DAYS: '30',
      CREDPROXY_RESOLVE: 'api.example.test:443=127.0.0.1:9443, git.example.test:443=[::1]:9444',
    },
  });
  assert.equal(config.proxy.requireAuth, false);
  assert.equal(config.admin.metricsAuth, true);
  assert.equal(config.audit.retentionDays, 30);
  assert.deepEqual(config.upstream.resolve, ['api.example.test:443=127.0.0.1:9443', 'git.example.test:443=[::1]:9444']);
});

test('the result is deeply frozen and paths are absolute', () => {
  const config = loadConfig({ env: { CREDPROXY_DATA_DIR: 'state' }, cwd: '/srv/x' });
  assert.equal(config.dataDir, '/srv/x/state');
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.proxy) && Object.isFrozen(config.upstream.resolve));
});

const BAD: Array<[string, Parameters<typeof loadConfig>[0], string]> = [
  ['bad listen', { env: { CREDPROXY_PROXY_LISTEN: 'localhost' } }, 'proxy.listen'],
  ['port out of range', { env: { CREDPROXY_ADMIN_LISTEN: '127.0.0.1:70000' } }, 'admin.listen'],
  ['bad boolean', { env: { CREDPROXY_ALLOW_PRIVATE: 'maybe' } }, 'egress.allowPrivateNetworks'],
  ['bad integer', { env: { CREDPROXY_AUDIT_RETENTION_DAYS: 'week' } }, 'audit.retentionDays'],
  ['short master key', { env: { CREDPROXY_MASTER_KEY: Buffer.alloc(16).toString('base64') } }, 'masterKey'],
  ['bad resolve', { env: { CREDPROXY_RESOLVE: 'nonsense' } }, 'upstream.resolve'],
  ['bad log level', { flags: { 'log.level': 'loud' } }, 'log.level'],
  ['unknown key', { flags: { 'proxy.bogus': true } }, 'proxy.bogus'],
];

for (const [name, sources, key] of BAD) {
  test(`a bad value names its key: ${name}`, () => {
    assert.throws(
      () => loadConfig({ cwd: tmp(), env: {}, ...sources }),
      (err: Error & { code?: string; key?: string }) => {
        assert.equal(err.code, 'config_invalid');
        assert.ok(err.key?.startsWith(key), `${err.key} should name ${key}`);
        assert.match(err.message, new RegExp(key.replace('.', '\\.')));
        return true;
      },
    );
  });
}

test('a missing or malformed config file is a config error', () => {
  const dir = tmp();
  assert.throws(() => loadConfig({ cwd: dir, env: {}, file: 'missing.yaml' }), /config: cannot read/);
  writeFileSync(join(dir, 'bad.yaml'), 'proxy: [unclosed');
  assert.throws(() => loadConfig({ cwd: dir, env: {}, file: 'bad.yaml' }), /not valid YAML/);
});
