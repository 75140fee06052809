import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/errors.js';
import { API_KEY, CA_PEM, startAdmin } from '../helpers/harness/index.js';

const PLANTED = 'PLANTED-value-in-a-body-3c9a1f';

test('no key, wrong key (any length), wrong scheme → 401 unauthorized envelope', async (t) => {
  const admin = await startAdmin(t);
  const attempts: Array<Record<string, string>> = [
    {},
    { 'x-api-key': 'wrong' },
    { 'x-api-key': `${API_KEY}x` },
    { 'x-api-key': API_KEY.slice(0, -1) },
    { authorization: `Basic ${API_KEY}` },
    { authorization: `Bearer ${API_KEY.toUpperCase()}` },
    { authorization: 'Bearer' },
  ];
  for (const headers of attempts) {
    const res = await admin.call('GET', '/secrets', { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.json.error.code, 'unauthorized');
    assert.equal(typeof res.json.error.message, 'string');
  }
});

test('X-API-Key and Authorization: Bearer are both accepted', async (t) => {
  const admin = await startAdmin(t);
  const accepted: Array<Record<string, string>> = [{ 'x-api-key': API_KEY }, { authorization: `Bearer ${API_KEY}` }, { authorization: `bearer ${API_KEY}` }];
  for (const headers of accepted) {
    const res = await admin.call('GET', '/secrets', { headers });
    assert.equal(res.status, 200, JSON.stringify(headers));
    assert.deepEqual(res.json, []);
  }
});

test('healthz and ca.pem need no key', async (t) => {
  const admin = await startAdmin(t);
  const health = await admin.call('GET', '/healthz', { headers: {} });
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { status: 'ok' });
  const ca = await admin.call('GET', '/ca.pem', { headers: {} });
  assert.equal(ca.status, 200);
  assert.equal(ca.headers['content-type'], 'application/x-pem-file');
  assert.equal(ca.text, CA_PEM);
});

test('unknown routes: 401 without a key, 404 envelope with one', async (t) => {
  const admin = await startAdmin(t);
  assert.equal((await admin.call('GET', '/nope', { headers: {} })).status, 401);
  const res = await admin.call('GET', '/nope');
  assert.equal(res.status, 404);
  assert.deepEqual(res.json, { error: { code: 'not_found', message: 'Route not found' } });
});

test('bodies: JSON only, 1 MiB limit, parse errors never quote the body', async (t) => {
  const admin = await startAdmin(t);
  const textPlain = await admin.call('POST', '/secrets', { body: PLANTED, headers: { 'x-api-key': API_KEY, 'content-type': 'text/plain' } });
  assert.equal(textPlain.status, 400);
  assert.equal(textPlain.json.error.code, 'bad_request');

  const broken = await admin.call('POST', '/secrets', {
    body: `{"value":"${PLANTED}",`,
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
  });
  assert.equal(broken.status, 400);
  assert.deepEqual(broken.json, { error: { code: 'bad_request', message: 'request body is not valid JSON' } });
  assert.equal(broken.text.includes(PLANTED), false);

  const poisoned = await admin.call('POST', '/secrets', {
    body: '{"__proto__":{"x":1}}',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
  });
  assert.equal(poisoned.status, 400);

  const huge = await admin.call('POST', '/secrets', { json: { name: 'big', value: 'x'.repeat(1024 * 1024 + 10), provider: 'openai' } });
  assert.equal(huge.status, 413);
  assert.equal(huge.json.error.code, 'payload_too_large');

  const notObject = await admin.call('POST', '/secrets', { json: [1, 2] });
  assert.equal(notObject.status, 400);
  assert.equal(notObject.json.error.code, 'bad_request');

  const unknownField = await admin.call('POST', '/secrets', { json: { name: 'a', value: PLANTED, provider: 'openai', extra: 1 } });
  assert.equal(unknownField.status, 400);
  assert.equal(unknownField.json.error.message, 'unknown field "extra"');

  // Some clients send the JSON content type on every request, DELETE included.
  const emptyJson = await admin.call('DELETE', '/secrets/absent', { body: '', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' } });
  assert.equal(emptyJson.status, 404);

  assert.equal(admin.logs.text.includes(PLANTED), false);
});

test('an unexpected error is a 500 "internal error"; the log has its class and frames, not its message', async (t) => {
  const admin = await startAdmin(t, (app) => {
    app.get('/boom', async () => {
      throw new Error(`failed while handling ${PLANTED}`);
    });
  });
  const res = await admin.call('GET', '/boom');
  assert.equal(res.status, 500);
  assert.deepEqual(res.json, { error: { code: 'internal_error', message: 'internal error' } });
  const logs = admin.logs.text;
  assert.equal(logs.includes(PLANTED), false);
  const line = admin.logs.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'admin API request failed');
  assert.equal(line.err.type, 'Error');
  assert.equal(line.route, '/boom');
});

test('routes with errorStyle "agents" answer {status, detail, details}; auth: false and extra routes honoured', async (t) => {
  const admin = await startAdmin(t, (app) => {
    app.get('/agent-style/:agent', { config: { errorStyle: 'agents' } }, async () => {
      throw new ApiError('not_found', 'Agent not found');
    });
    app.get('/open', { config: { auth: false } }, async () => ({ open: true }));
  });
  const unauth = await admin.call('GET', '/agent-style/a', { headers: {} });
  assert.equal(unauth.status, 401);
  assert.deepEqual(unauth.json, { status: 401, detail: 'Not authenticated', details: {} });
  const missing = await admin.call('GET', '/agent-style/a');
  assert.deepEqual(missing.json, { status: 404, detail: 'Agent not found', details: {} });
  assert.deepEqual((await admin.call('GET', '/open', { headers: {} })).json, { open: true });
});

test('request logging names no header and no key', async (t) => {
  const admin = await startAdmin(t);
  await admin.call('GET', '/secrets');
  await admin.call('GET', '/secrets', { headers: { authorization: `Bearer ${API_KEY}` } });
  const logs = admin.logs.text;
  assert.equal(logs.includes(API_KEY), false);
  assert.match(logs, /"route":"\/secrets"/);
});
