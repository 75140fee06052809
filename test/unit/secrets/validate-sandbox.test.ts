import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAttachBinding, parseCreateSandbox } from '../../../src/secrets/validate-sandbox.js';
import { assertBadRequest } from '../../helpers/api-error.js';

function rejects(body: unknown, message: string, parse: (body: unknown) => unknown = parseCreateSandbox): void {
  assertBadRequest(parse, body, message);
}

function sandbox(extra: Record<string, unknown>): Record<string, unknown> {
  return { name: 'agent-1', ...extra };
}

// --- facts §3: every quoted message, exactly -------------------------------------------------

test('secrets key must be an env-var name', () => {
  for (const key of ['1KEY', 'MY-KEY', 'MY KEY', '', 'KÉY']) {
    rejects(sandbox({ secrets: { OK: 'openai', [key]: 'openai' } }), `secrets key ${JSON.stringify(key)} is not a valid env-var name`);
  }
});

test('secrets has N entries, max is 32', () => {
  const secrets = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`KEY_${i}`, 'openai']));
  rejects(sandbox({ secrets }), 'secrets has 33 entries, max is 32');
  delete secrets.KEY_0;
  assert.equal(Object.keys(parseCreateSandbox(sandbox({ secrets })).secrets).length, 32);
});

test('a key in both env_vars and secrets', () => {
  rejects(
    sandbox({ secrets: { OPENAI_API_KEY: 'openai' }, env_vars: { LOG: 'debug', OPENAI_API_KEY: 'x' } }),
    'env-var key "OPENAI_API_KEY" appears in both env_vars and secrets; pick one',
  );
});

// --- Superserve's other messages and credproxy's sanity checks ---------------------------------

test('sandbox name', () => {
  rejects({}, 'name is required and must be 1-64 characters');
  rejects({ name: '  ' }, 'name is required and must be 1-64 characters');
  rejects({ name: 'a'.repeat(65) }, 'name is required and must be 1-64 characters');
  rejects({ name: 'a\nb' }, 'name must not contain control characters');
  assert.equal(parseCreateSandbox({ name: ' My agent #1 ' }).name, 'My agent #1');
  assert.equal(parseCreateSandbox({ name: 'a'.repeat(64) }).name.length, 64);
});

test('secret names in the secrets map follow the secret name rule', () => {
  rejects(sandbox({ secrets: { KEY: '  ' } }), 'secrets[KEY]: name is required');
  rejects(sandbox({ secrets: { KEY: 'bad name' } }), "secrets[KEY]: name must start with a letter or underscore and contain only letters, digits, '_', '-'");
  rejects(sandbox({ secrets: { KEY: 'a'.repeat(129) } }), 'secrets[KEY]: name exceeds 128 characters');
});

test('env_vars rules', () => {
  rejects(sandbox({ env_vars: { 'BAD-KEY': 'x' } }), 'env_vars key "BAD-KEY" is not a valid env-var name');
  rejects(sandbox({ env_vars: { '': 'x' } }), 'env_vars keys cannot be empty');
  rejects(sandbox({ env_vars: { K: 'x'.repeat(8193) } }), 'env_vars value for key "K" is 8193 bytes, max is 8192');
  rejects(sandbox({ env_vars: { K: 'a\0b' } }), 'env_vars value for key "K" contains a NUL byte');
  rejects(sandbox({ env_vars: { [`K${'x'.repeat(256)}`]: 'v' } }), `env_vars key "K${'x'.repeat(256)}" is 257 bytes, max is 256`);
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`K${i}`, 'v']));
  rejects(sandbox({ env_vars: many }), 'env_vars has 65 keys, max is 64');
  const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`K${i}`, 'x'.repeat(8000)]));
  rejects(sandbox({ env_vars: big }), 'env_vars exceeds 65536 bytes total');
  rejects(sandbox({ env_vars: { K: 1 } }), 'env_vars["K"] must be a string');
});

test('metadata rules', () => {
  rejects(sandbox({ metadata: { env: 1 } }), 'metadata["env"] must be a string');
  rejects(sandbox({ metadata: { '': 'x' } }), 'metadata keys cannot be empty');
  rejects(sandbox({ metadata: { k: 'x'.repeat(2049) } }), 'metadata value for key "k" is 2049 bytes, max is 2048');
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  rejects(sandbox({ metadata: many }), 'metadata has 65 keys, max is 64');
  const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'x'.repeat(2000)]));
  rejects(sandbox({ metadata: big }), 'metadata exceeds 16384 bytes total');
  rejects(sandbox({ metadata: ['x'] }), 'metadata must be an object');
});

test('network rules', () => {
  rejects(
    sandbox({ network: { allow_out: ['api.example.com', 'http://x.com'] } }),
    'network.allow_out[1]: "http://x.com" is not a valid host, IP address or CIDR',
  );
  rejects(sandbox({ network: { deny_out: ['10.0.0.0/33'] } }), 'network.deny_out[0]: "10.0.0.0/33" is not a valid host, IP address or CIDR');
  rejects(sandbox({ network: { allow_out: Array.from({ length: 257 }, () => '1.1.1.1') } }), 'network.allow_out has 257 entries, max is 256');
  rejects(sandbox({ network: { allow_out: 'x.com' } }), 'network.allow_out must be an array');
  rejects(sandbox({ network: { allow_out: [1] } }), 'network.allow_out[0] must be a string');
  rejects(sandbox({ network: { allow: [] } }), 'unknown field "network.allow"');
  rejects(sandbox({ network: [] }), 'network must be an object');
});

test('unknown fields and wrong types', () => {
  rejects(sandbox({ timeout_seconds: 60 }), 'unknown field "timeout_seconds"');
  rejects(null, 'request body must be a JSON object');
  rejects({ name: 7 }, 'name must be a string');
  rejects(sandbox({ secrets: ['openai'] }), 'secrets must be an object');
  rejects(sandbox({ secrets: { KEY: 1 } }), 'secrets["KEY"] must be a string');
});

test('source_addresses: single IP addresses, one spelling each, no duplicates', () => {
  rejects(sandbox({ source_addresses: '10.0.0.1' }), 'source_addresses must be an array');
  rejects(sandbox({ source_addresses: [1] }), 'source_addresses[0] must be a string');
  rejects(
    sandbox({ source_addresses: ['10.0.0.0/24'] }),
    "source_addresses[0] is a network range: list each address the sandbox's traffic comes from (CIDR ranges are not accepted)",
  );
  rejects(sandbox({ source_addresses: ['fe80::1%eth0'] }), 'source_addresses[0] has a zone id (%...): give the address alone');
  for (const bad of ['', 'sandbox.local', '10.0.0', '10.0.0.256', '[fd00::1]', '10.0.0.1:80', 'sk-real-looking-credential']) {
    rejects(sandbox({ source_addresses: ['10.0.0.1', bad] }), 'source_addresses[1] is not an IP address (one address per entry, e.g. 10.1.2.3 or fd00::5)');
  }
  rejects(sandbox({ source_addresses: ['0.0.0.0'] }), 'source_addresses[0]: 0.0.0.0 is unspecified and never the source of a connection');
  rejects(sandbox({ source_addresses: ['::'] }), 'source_addresses[0]: :: is unspecified and never the source of a connection');
  rejects(sandbox({ source_addresses: ['224.0.0.1'] }), 'source_addresses[0]: 224.0.0.1 is multicast and never the source of a connection');
  rejects(sandbox({ source_addresses: ['10.0.0.1', '::ffff:10.0.0.1'] }), 'source_addresses[1]: 10.0.0.1 is listed twice (also source_addresses[0])');
  rejects(sandbox({ source_addresses: ['fd00::1', 'FD00:0::1'] }), 'source_addresses[1]: fd00::1 is listed twice (also source_addresses[0])');
  rejects(sandbox({ source_addresses: Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}`) }), 'source_addresses has 17 entries, max is 16');
  assert.deepEqual(parseCreateSandbox(sandbox({ source_addresses: null })).source_addresses, []);
});

test('happy path: defaults and full body', () => {
  assert.deepEqual(parseCreateSandbox({ name: 'bare' }), {
    name: 'bare',
    secrets: {},
    env_vars: {},
    network: { allow_out: [], deny_out: [] },
    metadata: {},
    source_addresses: [],
  });
  const def = parseCreateSandbox({
    name: 'agent',
    secrets: { ANTHROPIC_API_KEY: ' anthropic-prod ', CLAUDE_KEY: 'anthropic-prod', _X: 'custom_1' },
    env_vars: { LOG_LEVEL: 'debug', EMPTY: '' },
    network: { allow_out: ['api.anthropic.com', '*.example.com', '10.0.0.0/8', '2001:db8::1'], deny_out: ['169.254.169.254'] },
    metadata: { env: 'prod', owner: 'agent-7' },
    source_addresses: [' 10.1.2.3 ', 'FD00:0:0::5', '::ffff:10.1.2.4', '127.0.0.2'],
  });
  assert.deepEqual(def, {
    name: 'agent',
    secrets: { ANTHROPIC_API_KEY: 'anthropic-prod', CLAUDE_KEY: 'anthropic-prod', _X: 'custom_1' },
    env_vars: { LOG_LEVEL: 'debug', EMPTY: '' },
    network: { allow_out: ['api.anthropic.com', '*.example.com', '10.0.0.0/8', '2001:db8::1'], deny_out: ['169.254.169.254'] },
    metadata: { env: 'prod', owner: 'agent-7' },
    source_addresses: ['10.1.2.3', 'fd00::5', '10.1.2.4', '127.0.0.2'],
  });
  assert.deepEqual(parseCreateSandbox({ name: 'n', secrets: null, env_vars: null, network: null, metadata: null }).network, { allow_out: [], deny_out: [] });
});

test('a __proto__ key stays data', () => {
  const body = JSON.parse('{"name":"n","env_vars":{"__proto__":"x"}}') as unknown;
  const def = parseCreateSandbox(body);
  assert.equal(Object.getPrototypeOf(def.env_vars), Object.prototype);
  assert.deepEqual(Object.keys(def.env_vars), ['__proto__']);
});

test('attach binding', () => {
  assert.deepEqual(parseAttachBinding({ env_key: 'OPENAI_API_KEY', secret_name: ' openai ' }), { env_key: 'OPENAI_API_KEY', secret_name: 'openai' });
  rejects({ env_key: 'BAD-KEY', secret_name: 'openai' }, 'secrets key "BAD-KEY" is not a valid env-var name', parseAttachBinding);
  rejects({ secret_name: 'openai' }, 'secrets key "" is not a valid env-var name', parseAttachBinding);
  rejects({ env_key: 'K' }, 'secrets[K]: name is required', parseAttachBinding);
  rejects({ env_key: 'K', secret_name: 'openai', revoked: false }, 'unknown field "revoked"', parseAttachBinding);
  rejects({ env_key: 1, secret_name: 'openai' }, 'env_key must be a string', parseAttachBinding);
});

test('expiry: ttl (whole seconds) or expires_at (RFC 3339 with a zone, in the future), not both', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  const parse = (extra: Record<string, unknown>) => parseCreateSandbox(sandbox(extra), now);
  assert.equal(parse({ ttl: 90 }).expires_at, '2030-01-01T00:01:30.000Z');
  assert.equal(parse({ expires_at: '2030-01-01T03:00:00+02:00' }).expires_at, '2030-01-01T01:00:00.000Z', 'normalised to UTC');
  assert.equal('expires_at' in parse({}), false, 'no expiry unless asked');
  assert.equal('expires_at' in parse({ ttl: null, expires_at: null }), false, 'null reads as absent');
  const rejectsAt = (extra: Record<string, unknown>, message: string) => assertBadRequest((body) => parseCreateSandbox(body, now), sandbox(extra), message);
  rejectsAt({ ttl: 60, expires_at: '2030-01-02T00:00:00Z' }, 'ttl and expires_at are mutually exclusive; pick one');
  for (const ttl of [0, -5, 1.5, '60', true]) rejectsAt({ ttl }, 'ttl must be a positive integer (seconds)');
  rejectsAt({ ttl: 10 * 365 * 24 * 3600 + 1 }, 'ttl must be <= 315360000 seconds (ten years)');
  for (const at of ['2030-01-02', '2030-01-02T00:00:00', 'tomorrow', '2030-13-45T99:00:00Z']) {
    rejectsAt({ expires_at: at }, 'expires_at must be an RFC 3339 date-time with a zone, e.g. 2030-01-02T15:04:05Z');
  }
  rejectsAt({ expires_at: '2030-01-01T00:00:00Z' }, 'expires_at must be in the future');
  rejectsAt({ expires_at: '2041-01-01T00:00:00Z' }, 'expires_at must be within ten years');
  rejectsAt({ expires_at: 5 }, 'expires_at must be a string');
});
