import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { curlViaProxy, proxyAgent, rawExchange } from '../helpers/clients.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { eventually, startProxy, type ProxyHarness } from '../helpers/harness/index.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { closedPort } from '../helpers/ports.js';
import { HttpsProxyAgentForWs } from '../helpers/ws-agent.js';
import WebSocket from 'ws';

let trustedPki: TestPki;
let untrustedPki: TestPki;
let upstream: TestUpstream;
let untrusted: TestUpstream;
let harness: ProxyHarness;
let deadPort: number;

before(async () => {
  trustedPki = await createTestPki('upstream-ca');
  untrustedPki = await createTestPki('untrusted-ca');
  upstream = await startUpstream({ pki: trustedPki });
  untrusted = await startUpstream({ pki: untrustedPki });
  // A port nobody listens on: bind, read the number, close.
  deadPort = await closedPort();
  harness = await startProxy({
    flags: {
      'upstream.resolve': [
        `api.example.test:443=127.0.0.1:${upstream.port}`,
        `untrusted.example.test:443=127.0.0.1:${untrusted.port}`,
        `down.example.test:443=127.0.0.1:${deadPort}`,
      ],
      'upstream.caFile': trustedPki.caPath,
      'upstream.headersTimeoutMs': 300,
    },
  });
});

after(async () => {
  await harness.close();
  await upstream.close();
  await untrusted.close();
  await trustedPki.remove();
  await untrustedPki.remove();
});

function assertRejection(res: { status: number; headers: Record<string, string>; body: string }, status: number, code: string): void {
  assert.equal(res.status, status, res.body);
  assert.equal(res.headers['x-credproxy-error'], 'true');
  assert.equal(res.headers['x-credproxy-reason'], code);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.body.trim().split('\n').length, 1);
}

test('an upstream whose certificate does not verify → 502 upstream_tls_error', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'https://untrusted.example.test/');
  assertRejection(res, 502, 'upstream_tls_error');
  const event = await eventually('the upstream_tls_error request', () => harness.requests.find((e) => e.errorCode === 'upstream_tls_error'));
  assert.equal(event.outcome, 'upstream_error');
});

test('an upstream that refuses connections → 502 upstream_unreachable', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'https://down.example.test/');
  assertRejection(res, 502, 'upstream_unreachable');
});

test('an upstream slower than headersTimeoutMs → 504 upstream_timeout', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'https://api.example.test/slow-headers?ms=2000');
  assertRejection(res, 504, 'upstream_timeout');
});

for (const [label, authority] of [
  ['127.0.0.1', '127.0.0.1'],
  ['[::1]', '[::1]'],
  ['::ffff:127.0.0.1', '[::ffff:127.0.0.1]'],
] as const) {
  test(`CONNECT ${label} → 403 internal_address_denied before any 200`, async () => {
    const { text, closed } = await rawExchange(harness.port, `CONNECT ${authority}:${upstream.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok(closed);
    assert.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(text, /X-Credproxy-Reason: internal_address_denied\r\n/);
    assert.doesNotMatch(text, /200 Connection Established/);
  });
}

test('CONNECT refusals yield a blocked connection event and one unaudited request event, under the id the client got', async () => {
  const before = harness.requests.length;
  const { text } = await rawExchange(harness.port, `CONNECT 127.0.0.1:${upstream.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const id = /\r\nX-Credproxy-Request-Id: ([0-9a-f]{24})\r\n/.exec(text)?.[1];
  assert.ok(id, text);
  const row = await eventually('the refused connection', () => harness.connections.find((c) => c.requestId === id));
  assert.equal(row.verdict, 'blocked');
  assert.equal(row.errorCode, 'internal_address_denied');
  await eventually('the refused request', () => harness.requests.length > before);
  const refused = harness.requests.slice(before);
  assert.deepEqual(
    refused.map((e) => [e.requestId, e.method, e.status, e.errorCode, e.outcome, e.audited]),
    [[id, 'CONNECT', 403, 'internal_address_denied', 'rejected', false]],
  );
});

test('a malformed request inside a tunnel → 400, and the proxy keeps serving', async () => {
  const tls = await import('node:tls');
  const { connect } = await import('node:net');
  const socket = connect(harness.port, '127.0.0.1');
  socket.write('CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  const secure = tls.connect({ socket, servername: 'api.example.test', ca: harness.pki.ca.certPem });
  await new Promise((resolve) => secure.once('secureConnect', resolve));
  let text = '';
  secure.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  secure.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  await new Promise((resolve) => secure.once('close', resolve));
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /X-Credproxy-Reason: bad_request/);
  const ok = await curlViaProxy(harness.port, harness.pki.caPath, 'https://api.example.test/after');
  assert.equal(ok.status, 200);
});

test('garbage to the proxy port → 400; garbage after CONNECT → 400 or a failed handshake, closed', async () => {
  const garbage = await rawExchange(harness.port, 'HELLO\r\n\r\n');
  assert.match(garbage.text, /^HTTP\/1\.1 400 /);
  assert.ok(garbage.closed);
  const connect = 'CONNECT api.example.test:443 HTTP/1.1\r\nHost: a\r\n\r\n';
  const notHttp = await rawExchange(harness.port, `${connect}\x01\x02 not http\r\n\r\n`);
  assert.ok(notHttp.closed);
  assert.match(notHttp.text, /^HTTP\/1\.1 200 Connection Established\r\nX-Credproxy-Request-Id: [0-9a-f]{24}\r\n\r\nHTTP\/1\.1 400 /);
  const badTls = await rawExchange(harness.port, Buffer.concat([Buffer.from(connect), Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])]));
  assert.ok(badTls.closed);
  await eventually('the failed connection', () => harness.connections.some((c) => c.verdict === 'failed'));
});

test('request headers above proxy.maxHeaderBytes → 431', async () => {
  const big = 'x'.repeat(40_000);
  const res = await rawExchange(harness.port, `GET http://api.example.test/ HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`);
  assert.match(res.text, /^HTTP\/1\.1 431 /);
});

test('a request body above proxy.maxBodyBytes → 413 body_too_large (declared and chunked)', async () => {
  const small = await startProxy({
    flags: {
      'upstream.resolve': [`api.example.test:443=127.0.0.1:${upstream.port}`],
      'upstream.caFile': trustedPki.caPath,
      'proxy.maxBodyBytes': 1000,
    },
  });
  const agent = proxyAgent(small.port, small.pki.ca.certPem);
  try {
    const declared = await request('https://api.example.test/upload', { dispatcher: agent, method: 'POST', body: 'x'.repeat(2000) });
    assert.equal(declared.statusCode, 413);
    assert.equal(declared.headers['x-credproxy-reason'], 'body_too_large');
    await declared.body.dump();
    const chunks = async function* () {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(300);
    };
    const chunked = await request('https://api.example.test/upload', { dispatcher: agent, method: 'POST', body: Readable.from(chunks()) });
    assert.equal(chunked.statusCode, 413);
    await chunked.body.dump();
    const fits = await request('https://api.example.test/upload', { dispatcher: agent, method: 'POST', body: 'x'.repeat(999) });
    assert.equal(fits.statusCode, 200);
    await fits.body.dump();
  } finally {
    await agent.close();
    await small.close();
  }
});

test('a failed upstream reports one outcome on every path: request and WebSocket upgrade are both upstream_error', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'https://down.example.test/plain-down');
  assertRejection(res, 502, 'upstream_unreachable');
  const ws = new WebSocket('wss://down.example.test/ws-down', { agent: new HttpsProxyAgentForWs(harness.port, harness.pki.ca.certPem) });
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0));
    ws.once('open', () => reject(new Error('the upgrade to a dead upstream opened')));
    ws.once('error', reject);
  });
  ws.terminate();
  assert.equal(status, 502);
  await eventually('both -down requests', () => harness.requests.filter((e) => e.path.endsWith('-down')).length === 2);
  const reported = harness.requests.filter((e) => e.path.endsWith('-down')).map((e) => [e.path, e.status, e.errorCode, e.outcome]);
  assert.deepEqual(reported.sort(), [
    ['/plain-down', 502, 'upstream_unreachable', 'upstream_error'],
    ['/ws-down', 502, 'upstream_unreachable', 'upstream_error'],
  ]);
});
