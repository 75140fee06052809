import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SANDBOX_ENV, startAdmin, type AdminHarness } from '../helpers/harness/index.js';

const PLANTED = 'PLANTED-openai-real-key-1a2b3c4d5e6f';

async function withSecrets(admin: AdminHarness): Promise<void> {
  await admin.call('POST', '/secrets', { json: { name: 'openai', value: PLANTED, provider: 'openai' } });
  await admin.call('POST', '/secrets', { json: { name: 'custom', value: PLANTED, auth: { type: 'bearer' }, hosts: ['api.example.com'] } });
}

test('POST /sandboxes: 201 with token, bindings, network, metadata and the env of docs/contract.md#sandbox-env', async (t) => {
  const admin = await startAdmin(t);
  await withSecrets(admin);
  const res = await admin.call('POST', '/sandboxes', {
    json: {
      name: 'agent-1',
      secrets: { OPENAI_API_KEY: 'openai', TOOL_TOKEN: 'custom' },
      env_vars: { LOG_LEVEL: 'debug' },
      network: { allow_out: ['api.openai.com'], deny_out: [] },
      metadata: { owner: 'team-a' },
    },
  });
  assert.equal(res.status, 201);
  const sb = res.json;
  assert.deepEqual(Object.keys(sb), ['id', 'name', 'status', 'created_at', 'access_token', 'secrets', 'network', 'metadata', 'env']);
  assert.equal(sb.status, 'active');
  assert.match(sb.access_token, /^[A-Za-z0-9_-]{22,}$/);
  assert.deepEqual(sb.secrets, [
    { env_key: 'OPENAI_API_KEY', secret_name: 'openai', revoked: false },
    { env_key: 'TOOL_TOKEN', secret_name: 'custom', revoked: false },
  ]);
  assert.deepEqual(sb.network, { allow_out: ['api.openai.com'], deny_out: [] });
  assert.deepEqual(sb.metadata, { owner: 'team-a' });

  const proxy = `http://sb:${sb.access_token}@127.0.0.1:18080`;
  const { OPENAI_API_KEY, TOOL_TOKEN, ...rest } = sb.env;
  assert.match(OPENAI_API_KEY, /^sk-proj-[A-Za-z0-9]{64}$/);
  assert.match(TOOL_TOKEN, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(rest, {
    LOG_LEVEL: 'debug',
    HTTPS_PROXY: proxy,
    https_proxy: proxy,
    NO_PROXY: 'localhost,127.0.0.1',
    no_proxy: 'localhost,127.0.0.1',
    NODE_EXTRA_CA_CERTS: SANDBOX_ENV.caPath,
    SSL_CERT_FILE: SANDBOX_ENV.caPath,
    REQUESTS_CA_BUNDLE: SANDBOX_ENV.caPath,
    CURL_CA_BUNDLE: SANDBOX_ENV.caPath,
    GIT_SSL_CAINFO: SANDBOX_ENV.caPath,
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    NODE_USE_ENV_PROXY: '1',
  });
  assert.equal(res.text.includes(PLANTED), false);

  assert.deepEqual((await admin.call('GET', `/sandboxes/${sb.id}`)).json, sb);
  assert.deepEqual((await admin.call('GET', '/sandboxes')).json, [sb]);
});

test('POST /sandboxes: missing secret → 400 secret_not_found; bad bodies → 400', async (t) => {
  const admin = await startAdmin(t);
  await withSecrets(admin);
  const missing = await admin.call('POST', '/sandboxes', { json: { name: 'x', secrets: { A: 'openai', B: 'ghost' } } });
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.json, { error: { code: 'secret_not_found', message: 'secrets[B] references "ghost", which does not exist for this team' } });
  assert.deepEqual((await admin.call('GET', '/sandboxes')).json, []);

  const both = await admin.call('POST', '/sandboxes', { json: { name: 'x', secrets: { K: 'openai' }, env_vars: { K: 'v' } } });
  assert.equal(both.status, 400);
  assert.equal(both.json.error.message, 'env-var key "K" appears in both env_vars and secrets; pick one');
  const badKey = await admin.call('POST', '/sandboxes', { json: { name: 'x', secrets: { 'not-valid': 'openai' } } });
  assert.equal(badKey.json.error.message, 'secrets key "not-valid" is not a valid env-var name');
  const extra = await admin.call('POST', '/sandboxes', { json: { name: 'x', image: 'y' } });
  assert.equal(extra.status, 400);
  assert.equal(extra.json.error.code, 'bad_request');
});

test('GET/DELETE unknown sandbox → 404 Sandbox not found; DELETE is 204 once', async (t) => {
  const admin = await startAdmin(t);
  await withSecrets(admin);
  for (const [method, path] of [
    ['GET', '/sandboxes/nope'],
    ['DELETE', '/sandboxes/nope'],
    ['DELETE', '/sandboxes/nope/secrets/K'],
  ]) {
    const res = await admin.call(method!, path!);
    assert.equal(res.status, 404);
    assert.deepEqual(res.json, { error: { code: 'not_found', message: 'Sandbox not found' } });
  }
  const attach = await admin.call('POST', '/sandboxes/nope/secrets', { json: { env_key: 'K', secret_name: 'openai' } });
  assert.equal(attach.status, 404);

  const sb = (await admin.call('POST', '/sandboxes', { json: { name: 'x', secrets: { K: 'openai' } } })).json;
  const del = await admin.call('DELETE', `/sandboxes/${sb.id}`);
  assert.equal(del.status, 204);
  assert.equal((await admin.call('GET', `/sandboxes/${sb.id}`)).status, 404);
  assert.equal((await admin.call('DELETE', `/sandboxes/${sb.id}`)).status, 404);
});

test('attach (201), duplicate key (409), detach (204), detach again (404)', async (t) => {
  const admin = await startAdmin(t);
  await withSecrets(admin);
  const sb = (await admin.call('POST', '/sandboxes', { json: { name: 'x', secrets: { OPENAI_API_KEY: 'openai' } } })).json;

  const attached = await admin.call('POST', `/sandboxes/${sb.id}/secrets`, { json: { env_key: 'TOOL_TOKEN', secret_name: 'custom' } });
  assert.equal(attached.status, 201);
  assert.deepEqual(attached.json, { env_key: 'TOOL_TOKEN', secret_name: 'custom' });
  const afterAttach = (await admin.call('GET', `/sandboxes/${sb.id}`)).json;
  assert.deepEqual(
    afterAttach.secrets.map((s: { env_key: string }) => s.env_key),
    ['OPENAI_API_KEY', 'TOOL_TOKEN'],
  );
  assert.ok(afterAttach.env.TOOL_TOKEN);

  const dup = await admin.call('POST', `/sandboxes/${sb.id}/secrets`, { json: { env_key: 'TOOL_TOKEN', secret_name: 'openai' } });
  assert.equal(dup.status, 409);
  assert.deepEqual(dup.json, { error: { code: 'conflict', message: 'env-var key "TOOL_TOKEN" is already bound on this sandbox' } });

  const missing = await admin.call('POST', `/sandboxes/${sb.id}/secrets`, { json: { env_key: 'NEW', secret_name: 'ghost' } });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error.code, 'secret_not_found');
  const badBody = await admin.call('POST', `/sandboxes/${sb.id}/secrets`, { json: { env_key: 'NEW', secret_name: 'openai', x: 1 } });
  assert.equal(badBody.status, 400);

  const detached = await admin.call('DELETE', `/sandboxes/${sb.id}/secrets/TOOL_TOKEN`);
  assert.equal(detached.status, 204);
  const afterDetach = (await admin.call('GET', `/sandboxes/${sb.id}`)).json;
  assert.deepEqual(afterDetach.secrets, [{ env_key: 'OPENAI_API_KEY', secret_name: 'openai', revoked: false }]);
  assert.equal('TOOL_TOKEN' in afterDetach.env, false);
  const again = await admin.call('DELETE', `/sandboxes/${sb.id}/secrets/TOOL_TOKEN`);
  assert.equal(again.status, 404);
  assert.deepEqual(again.json, { error: { code: 'not_found', message: 'no secret bound under env-var key "TOOL_TOKEN" on this sandbox' } });

  const reattached = await admin.call('POST', `/sandboxes/${sb.id}/secrets`, { json: { env_key: 'TOOL_TOKEN', secret_name: 'custom' } });
  assert.equal(reattached.status, 201);
  const final = (await admin.call('GET', `/sandboxes/${sb.id}`)).json;
  assert.notEqual(final.env.TOOL_TOKEN, afterAttach.env.TOOL_TOKEN);
});

test('deleting a secret shows its bindings revoked: true and drops the stand-in from env', async (t) => {
  const admin = await startAdmin(t);
  await withSecrets(admin);
  const sb = (await admin.call('POST', '/sandboxes', { json: { name: 'x', secrets: { OPENAI_API_KEY: 'openai', TOOL_TOKEN: 'custom' } } })).json;
  assert.equal((await admin.call('DELETE', '/secrets/openai')).status, 204);
  const after = (await admin.call('GET', `/sandboxes/${sb.id}`)).json;
  assert.deepEqual(after.secrets, [
    { env_key: 'OPENAI_API_KEY', secret_name: 'openai', revoked: true },
    { env_key: 'TOOL_TOKEN', secret_name: 'custom', revoked: false },
  ]);
  assert.equal('OPENAI_API_KEY' in after.env, false);
  assert.equal(after.env.TOOL_TOKEN, sb.env.TOOL_TOKEN);
});
