import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';

let daemon: TestDaemon;

before(async () => {
  daemon = await startDaemon({ flags: { 'log.level': 'warn' } });
  const created = await daemon.api('POST', '/secrets', {
    name: 'kept',
    value: 'REAL-admin-hardening-1',
    auth: { type: 'bearer' },
    hosts: ['api.example.test'],
  });
  assert.equal(created.status, 201, created.text);
});

after(() => daemon.close());

const base = (): string => `http://${daemon.daemon.adminAddress}`;

async function raw(path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; text: string }> {
  const res = await request(base() + path, { method: method as 'GET', headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

test('missing, wrong and unequal-length keys → 401 envelope, never 500', async () => {
  const key = daemon.daemon.apiKey;
  const wrong = [
    {},
    { 'x-api-key': '' },
    { 'x-api-key': 'x' },
    { 'x-api-key': key.slice(0, -1) },
    { 'x-api-key': `${key}x` },
    { 'x-api-key': key.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) },
    { 'x-api-key': 'k'.repeat(16_000) },
    { authorization: `Basic ${key}` },
    { authorization: 'Bearer' },
    { authorization: `Bearer  ${key} extra` },
  ];
  for (const headers of wrong) {
    const res = await raw('/secrets', headers as Record<string, string>);
    assert.equal(res.status, 401, JSON.stringify(headers).slice(0, 80));
    assert.equal(JSON.parse(res.text).error.code, 'unauthorized');
    assert.ok(!res.text.includes(key));
  }
  assert.equal((await raw('/secrets', { 'x-api-key': key })).status, 200);
  assert.equal((await raw('/secrets', { authorization: `Bearer ${key}` })).status, 200);
});

test('the key comparison is constant-time: both sides hashed, then timingSafeEqual', () => {
  const source = readFileSync('src/api/api-key.ts', 'utf8');
  assert.match(source, /timingSafeEqual\(digest\(presented\), expected\)/);
  assert.match(source, /createHash\('sha256'\)/);
  assert.doesNotMatch(source, /presented\s*===\s*[^u\s]|===\s*presented\b|apiKey\s*===/);
});

test('a body above 1 MiB → 413, a slightly smaller one is read', async () => {
  const key = daemon.daemon.apiKey;
  const headers = { 'x-api-key': key, 'content-type': 'application/json' };
  const big = JSON.stringify({ name: 'big', value: 'v'.repeat(1024 * 1024 + 10) });
  const res = await raw('/secrets', headers, 'POST', big);
  assert.equal(res.status, 413);
  assert.ok(!res.text.includes('vvvv'));
  const small = await raw(
    '/secrets',
    headers,
    'POST',
    JSON.stringify({ name: 'small', value: 'v'.repeat(900 * 1024), auth: { type: 'bearer' }, hosts: ['a.test'] }),
  );
  assert.notEqual(small.status, 500);
  assert.ok(small.status < 500, small.text.slice(0, 200));
});

test('path traversal, encoded slashes and unicode in names → 400/404, never 500, never another resource', async () => {
  const key = daemon.daemon.apiKey;
  const names = [
    '..%2F..%2Fetc',
    '..%2F..%2Fetc%2Fpasswd',
    '%2E%2E%2F%2E%2E%2Fetc',
    '..',
    '.',
    '%2e%2e',
    'kept%2F..%2Fkept',
    'kept%00',
    '%00',
    'kept%2Faudit',
    '%C0%AE%C0%AE%2F',
    '%E2%80%AEkept',
    'k%C3%A9pt',
    '%F0%9F%92%A9',
    '%ZZ',
    'kept%',
    'a'.repeat(5000),
    '..%5C..%5Cetc',
  ];
  for (const name of names) {
    for (const [method, path] of [
      ['GET', `/secrets/${name}`],
      ['DELETE', `/secrets/${name}`],
      ['GET', `/secrets/${name}/audit`],
      ['GET', `/sandboxes/${name}`],
      ['GET', `/sandboxes/${name}/network`],
      ['GET', `/v1/agents/${name}/secrets`],
    ] as const) {
      const res = await raw(path, { 'x-api-key': key }, method);
      assert.ok([400, 404, 414, 422].includes(res.status), `${method} ${path.slice(0, 60)} → ${res.status} ${res.text.slice(0, 120)}`);
    }
    const patch = await raw(`/secrets/${name}`, { 'x-api-key': key, 'content-type': 'application/json' }, 'PATCH', '{"value":"x"}');
    assert.ok([400, 404, 414].includes(patch.status), `PATCH ${name.slice(0, 40)} → ${patch.status}`);
  }
  assert.equal((await daemon.api('GET', '/secrets/kept')).status, 200, 'nothing was deleted by a traversal');
});
