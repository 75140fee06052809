import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { ProxyRejection } from '../../src/errors.js';
import { PASS_THROUGH_POLICY, type ProxyPolicy } from '../../src/proxy/policy.js';
import { curlViaProxy, proxyAgent, rawExchange } from '../helpers/clients.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { eventually, startProxy, type ProxyHarness } from '../helpers/harness/index.js';
import { startUpstream, type EchoBody, type TestUpstream } from '../helpers/upstream.js';

/** Refuses to inject into cleartext, as the real rules do; records the targets it saw. */
const seen: Array<{ secure: boolean; host: string; port: number }> = [];
const policy: ProxyPolicy = {
  ...PASS_THROUGH_POLICY,
  authorizeRequest(_identity, target, headers) {
    seen.push({ ...target });
    if (headers.authorization === 'Bearer stand-in' && !target.secure) throw new ProxyRejection('cleartext_injection_refused');
    return { matches: [], scrubber: undefined };
  },
};

let plain: TestUpstream;
let tlsPki: TestPki;
let tlsUpstream: TestUpstream;
let harness: ProxyHarness;

before(async () => {
  plain = await startUpstream();
  tlsPki = await createTestPki('upstream-ca');
  tlsUpstream = await startUpstream({ pki: tlsPki });
  harness = await startProxy({
    policy,
    flags: {
      'upstream.resolve': [`plain.example.test:80=127.0.0.1:${plain.port}`, `slow.example.test:443=127.0.0.1:${tlsUpstream.port}`],
      'upstream.caFile': tlsPki.caPath,
    },
  });
});

after(async () => {
  await harness.close();
  await plain.close();
  await tlsUpstream.close();
  await tlsPki.remove();
});

test('absolute-URI http requests are forwarded as cleartext with secure: false', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'http://plain.example.test/p?q=1', ['-H', 'Proxy-Foo: x']);
  assert.equal(res.status, 200, res.body);
  const echo = JSON.parse(res.body) as EchoBody;
  assert.equal(echo.url, '/p?q=1');
  assert.equal(echo.headers.host, 'plain.example.test');
  assert.equal(echo.headers['proxy-foo'], undefined);
  assert.deepEqual(seen.at(-1), { secure: false, host: 'plain.example.test', port: 80 });
  await eventually('the plain connection', () => harness.connections.some((c) => c.host === 'plain.example.test' && c.verdict === 'allowed'));
  await eventually('the plain request', () => harness.requests.some((e) => e.host === 'plain.example.test' && e.path === '/p'));
});

test('a stand-in in a cleartext request → 403 cleartext_injection_refused, nothing forwarded', async () => {
  const before = plain.requests;
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'http://plain.example.test/x', ['-H', 'Authorization: Bearer stand-in']);
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'cleartext_injection_refused');
  assert.equal(plain.requests, before);
});

test('absolute-URI requests to internal addresses → 403; origin-form to the proxy → 400', async () => {
  const internal = await rawExchange(harness.port, `GET http://127.0.0.1:${plain.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`, 500);
  assert.match(internal.text, /^HTTP\/1\.1 403 /);
  assert.match(internal.text, /X-Credproxy-Reason: internal_address_denied/);
  const origin = await rawExchange(harness.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 500);
  assert.match(origin.text, /^HTTP\/1\.1 400 /);
});

test('close() lets a request in flight finish, then stops', async () => {
  const own = await startProxy({
    flags: { 'upstream.resolve': [`slow.example.test:443=127.0.0.1:${tlsUpstream.port}`], 'upstream.caFile': tlsPki.caPath },
  });
  const agent = proxyAgent(own.port, own.pki.ca.certPem);
  try {
    const seen = tlsUpstream.requests;
    const pending = request('https://slow.example.test/slow-headers?ms=400', { dispatcher: agent });
    // In flight means the upstream has it: a fixed pause lost the race on a loaded machine.
    await eventually('the request at the upstream', () => tlsUpstream.requests > seen, 10_000);
    const closing = own.close();
    const res = await pending;
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    await closing;
    const afterClose = await rawExchange(own.port, 'GET http://plain.example.test/ HTTP/1.1\r\n\r\n', 300);
    assert.deepEqual(afterClose, { text: '', closed: true });
  } finally {
    await agent.close();
  }
});
