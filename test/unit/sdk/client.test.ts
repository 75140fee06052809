import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredproxyClient, RequestError } from '../../../src/sdk/index.js';

const KEY = 'admin-key-never-in-errors-123456';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function fakeFetch(status: number, body: string, calls: Call[] = []): typeof fetch {
  return (async (url: URL, init: RequestInit) => {
    calls.push({ url: String(url), method: init.method!, headers: init.headers as Record<string, string>, body: init.body as string | undefined });
    return new Response(status === 204 ? null : body, { status });
  }) as unknown as typeof fetch;
}

test('requests: method, encoded path, query, API key header, JSON body', async () => {
  const calls: Call[] = [];
  const client = new CredproxyClient({ url: 'http://127.0.0.1:1/', apiKey: KEY, fetch: fakeFetch(200, '{"keys":["A"]}', calls) });
  assert.deepEqual(await client.setAgentSecrets('my agent', { A: '1' }), { keys: ['A'] });
  await client.secretAudit('s/1', { limit: 5, status: 'errors' });
  assert.equal(calls[0]!.url, 'http://127.0.0.1:1/v1/agents/my%20agent/secrets');
  assert.equal(calls[0]!.method, 'PATCH');
  assert.equal(calls[0]!.headers['x-api-key'], KEY);
  assert.equal(calls[0]!.body, '{"secrets":{"A":"1"}}');
  assert.equal(calls[1]!.url, 'http://127.0.0.1:1/secrets/s%2F1/audit?limit=5&status=errors');
  assert.equal(calls[1]!.body, undefined);

  const empty = new CredproxyClient({ url: 'http://x', apiKey: KEY, fetch: fakeFetch(204, '') });
  assert.equal(await empty.deleteSecret('a'), undefined);
});

test('errors: both envelopes become RequestError with status, code and message', async () => {
  const cases: Array<[number, string, string, string]> = [
    [404, '{"error":{"code":"not_found","message":"Secret not found"}}', 'not_found', 'Secret not found'],
    [409, '{"error":{"code":"conflict","message":"a secret named \\"x\\" already exists"}}', 'conflict', 'a secret named "x" already exists'],
    [422, '{"status":422,"detail":"Missing required secret(s): A","details":{"missing":["A"]}}', 'unprocessable_entity', 'Missing required secret(s): A'],
    [401, '{"status":401,"detail":"Not authenticated","details":{}}', 'unauthorized', 'Not authenticated'],
    [502, 'Bad gateway', 'http_502', 'HTTP 502'],
  ];
  for (const [status, body, code, message] of cases) {
    const client = new CredproxyClient({ url: 'http://x', apiKey: KEY, fetch: fakeFetch(status, body) });
    await assert.rejects(client.runAgent('a'), (err: RequestError) => {
      assert.ok(err instanceof RequestError);
      assert.equal(err.status, status);
      assert.equal(err.code, code);
      assert.equal(err.message, message);
      return true;
    });
  }
  const client = new CredproxyClient({ url: 'http://x', apiKey: KEY, fetch: fakeFetch(422, '{"status":422,"detail":"d","details":{"missing":["A","B"]}}') });
  await assert.rejects(client.runAgent('a'), (err: RequestError) => {
    assert.deepEqual(err.details, { missing: ['A', 'B'] });
    return true;
  });
});

test('network failures are RequestError network_error without the API key', async () => {
  const failing = (async () => {
    throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  }) as unknown as typeof fetch;
  const client = new CredproxyClient({ url: 'http://127.0.0.1:9', apiKey: KEY, fetch: failing });
  await assert.rejects(client.listAgents(), (err: RequestError) => {
    assert.equal(err.status, 0);
    assert.equal(err.code, 'network_error');
    assert.equal(err.message, 'connection refused — is credproxy serve running at http://127.0.0.1:9?');
    assert.ok(!JSON.stringify({ ...err, message: err.message, stack: err.stack }).includes(KEY));
    return true;
  });
});
