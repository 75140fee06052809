import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE_FILE } from '../../src/store/index.js';
import { startAdmin } from '../helpers/harness/index.js';
import { ANTHROPIC_WIRE } from '../helpers/anthropic-wire.js';

const PLANTED = 'sk-ant-PLANTED-real-key-5e2d8c0b7a61';
const ROTATED = 'sk-ant-ROTATED-real-key-9f8e7d6c5b4a';

test('GET /providers: the catalogue, alphabetical', async (t) => {
  const admin = await startAdmin(t);
  const res = await admin.call('GET', '/providers');
  assert.equal(res.status, 200);
  const names = res.json.map((p: { name: string }) => p.name);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes('anthropic'));
  const anthropic = res.json.find((p: { name: string }) => p.name === 'anthropic');
  assert.deepEqual(anthropic, ANTHROPIC_WIRE);
});

test('secrets: create, list, get, rotate, delete', async (t) => {
  const admin = await startAdmin(t);
  const created = await admin.call('POST', '/secrets', { json: { name: 'anthropic-prod', value: PLANTED, provider: 'anthropic' } });
  assert.equal(created.status, 201);
  assert.deepEqual(Object.keys(created.json), ['id', 'name', 'auth_type', 'auth_config', 'provider_shortcut', 'hosts', 'created_at', 'updated_at']);
  assert.equal(created.json.auth_type, 'api-key');
  assert.deepEqual(created.json.auth_config, { header: 'x-api-key' });
  assert.equal(created.json.provider_shortcut, 'anthropic');
  assert.deepEqual(created.json.hosts, ['api.anthropic.com']);
  assert.match(created.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

  const custom = await admin.call('POST', '/secrets', {
    json: { name: 'internal', value: PLANTED, auth: { type: 'api-key', header: 'X-Token', prefix: 'Key ' }, hosts: ['api.internal.example.com'] },
  });
  assert.equal(custom.status, 201);
  assert.deepEqual(custom.json.auth_config, { header: 'X-Token', prefix: 'Key ' });
  assert.equal('provider_shortcut' in custom.json, false);

  const list = await admin.call('GET', '/secrets');
  assert.deepEqual(
    list.json.map((s: { name: string }) => s.name),
    ['anthropic-prod', 'internal'],
  );
  assert.deepEqual((await admin.call('GET', '/secrets/internal')).json, custom.json);

  const rotated = await admin.call('PATCH', '/secrets/internal', { json: { value: ROTATED } });
  assert.equal(rotated.status, 200);
  assert.equal(rotated.json.id, custom.json.id);
  assert.equal(admin.store.ruleSource.revealSecret(custom.json.id)?.reveal(), ROTATED);

  const deleted = await admin.call('DELETE', '/secrets/internal');
  assert.equal(deleted.status, 204);
  assert.equal(deleted.text, '');
  assert.equal((await admin.call('GET', '/secrets/internal')).status, 404);

  for (const res of [created, custom, list, rotated]) {
    assert.equal(res.text.includes(PLANTED) || res.text.includes(ROTATED), false);
  }
});

test('secrets: error codes and messages', async (t) => {
  const admin = await startAdmin(t);
  await admin.call('POST', '/secrets', { json: { name: 'dup', value: PLANTED, provider: 'openai' } });
  const cases: Array<[string, string, unknown, number, string, string]> = [
    ['POST', '/secrets', { name: 'dup', value: PLANTED, provider: 'openai' }, 409, 'conflict', 'a secret named "dup" already exists'],
    ['POST', '/secrets', { name: 'x', value: PLANTED, provider: 'nope' }, 400, 'bad_request', ''],
    ['POST', '/secrets', { name: 'x', value: PLANTED }, 400, 'bad_request', ''],
    [
      'POST',
      '/secrets',
      { name: '9bad', value: PLANTED, provider: 'openai' },
      400,
      'bad_request',
      "name must start with a letter or underscore and contain only letters, digits, '_', '-'",
    ],
    ['POST', '/secrets', { name: 'x', value: '', provider: 'openai' }, 400, 'bad_request', 'value is required'],
    [
      'POST',
      '/secrets',
      { name: 'x', value: PLANTED, provider: 'openai', hosts: ['a.example.com'] },
      400,
      'bad_request',
      'provider is mutually exclusive with auth/hosts; pick one',
    ],
    ['GET', '/secrets/missing', undefined, 404, 'not_found', 'Secret not found'],
    ['PATCH', '/secrets/missing', { value: ROTATED }, 404, 'not_found', 'Secret not found'],
    ['PATCH', '/secrets/dup', { value: ROTATED, name: 'other' }, 400, 'bad_request', 'unknown field "name"'],
    ['PATCH', '/secrets/dup', { value: '' }, 400, 'bad_request', 'value is required'],
    ['DELETE', '/secrets/missing', undefined, 404, 'not_found', 'Secret not found'],
    ['GET', '/secrets/missing/sandboxes', undefined, 404, 'not_found', 'Secret not found'],
    ['GET', '/secrets/bad%20name', undefined, 400, 'bad_request', ''],
  ];
  for (const [method, path, json, status, code, message] of cases) {
    const res = await admin.call(method, path, json === undefined ? {} : { json });
    const label = `${method} ${path} ${JSON.stringify(json)}`;
    assert.equal(res.status, status, label);
    assert.equal(res.json.error.code, code, label);
    if (message) assert.equal(res.json.error.message, message, label);
    assert.equal(res.text.includes(PLANTED), false, label);
  }
});

test('GET /secrets/{name}/sandboxes lists live bindings only', async (t) => {
  const admin = await startAdmin(t);
  await admin.call('POST', '/secrets', { json: { name: 'gh', value: PLANTED, provider: 'github' } });
  const one = await admin.call('POST', '/sandboxes', { json: { name: 'one', secrets: { GITHUB_TOKEN: 'gh', GH_TOKEN: 'gh' } } });
  const two = await admin.call('POST', '/sandboxes', { json: { name: 'two', secrets: { GITHUB_TOKEN: 'gh' } } });
  await admin.call('DELETE', `/sandboxes/${one.json.id}/secrets/GH_TOKEN`);
  await admin.call('DELETE', `/sandboxes/${two.json.id}`);
  const res = await admin.call('GET', '/secrets/gh/sandboxes');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, [{ sandbox_id: one.json.id, sandbox_name: 'one', env_key: 'GITHUB_TOKEN', status: 'active' }]);
});

test('values reach neither the logs nor the database files in cleartext', async (t) => {
  const admin = await startAdmin(t);
  await admin.call('POST', '/secrets', { json: { name: 'a', value: PLANTED, provider: 'anthropic' } });
  await admin.call('POST', '/secrets', { json: { name: 'b', value: PLANTED, auth: { type: 'bearer' }, hosts: ['api.example.com'] } });
  await admin.call('PATCH', '/secrets/a', { json: { value: ROTATED } });
  await admin.call('POST', '/secrets', { json: { name: 'a', value: PLANTED, provider: 'anthropic' } });
  const path = join(admin.dataDir, DATABASE_FILE);
  for (const file of [path, `${path}-wal`]) {
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    assert.equal(bytes.includes(Buffer.from(PLANTED)), false, file);
    assert.equal(bytes.includes(Buffer.from(ROTATED)), false, file);
  }
  const logs = admin.logs.text;
  assert.equal(logs.includes(PLANTED) || logs.includes(ROTATED), false);
});
