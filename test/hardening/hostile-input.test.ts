import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { rawExchange } from '../helpers/clients.js';
import { eventually, type ProxyHarness, startDaemon, startProxy, type TestDaemon } from '../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { collect, openSocket, openTunnel, trickle } from './support.js';

/** Small so slow clients are cut quickly; the sweep then runs every HEADERS_TIMEOUT ms. */
const HEADERS_TIMEOUT = 600;
const HOST = 'api.example.test';

let upstreamPki: TestPki;
let upstream: TestUpstream;
let plain: TestUpstream;
let harness: ProxyHarness;
let caPem: string;
let admin: TestDaemon;

before(async () => {
  upstreamPki = await createTestPki('hostile-upstream');
  upstream = await startUpstream({ pki: upstreamPki });
  plain = await startUpstream();
  harness = await startProxy({
    flags: {
      'upstream.resolve': [`${HOST}:443=127.0.0.1:${upstream.port}`, `${HOST}:80=127.0.0.1:${plain.port}`],
      'upstream.caFile': upstreamPki.caPath,
      'proxy.headersTimeoutMs': HEADERS_TIMEOUT,
      'proxy.maxHeaderBytes': 4096,
    },
  });
  caPem = readFileSync(harness.pki.caPath, 'utf8');
  admin = await startDaemon({ flags: { 'admin.headersTimeoutMs': HEADERS_TIMEOUT, 'log.level': 'warn' } });
});

after(async () => {
  await harness.close();
  await admin.close();
  await upstream.close();
  await plain.close();
  await upstreamPki.remove();
});

const adminPort = (): number => Number(admin.daemon.adminAddress.split(':').at(-1));

/** The proxy still answers a well-formed request. */
async function assertServing(): Promise<void> {
  const tls = await openTunnel(harness.port, HOST, caPem);
  tls.write(`GET /alive HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
  const { text } = await collect(tls, 3000);
  assert.match(text, /^HTTP\/1\.1 200 /);
}

/** A clean refusal: an HTTP error status (and the socket closed), or a socket closed without a word. */
function assertRefused(result: { text: string; closed: boolean }, statuses: readonly number[], label: string): void {
  assert.ok(result.closed, `${label}: the connection must be closed`);
  if (result.text === '') return;
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(result.text)?.[1]);
  assert.ok(statuses.includes(status), `${label}: got ${result.text.split('\r\n')[0]}`);
}

const MALFORMED: ReadonlyArray<[string, string]> = [
  ['junk request line', 'HELLO\r\n\r\n'],
  ['no target', 'GET\r\n\r\n'],
  ['bad version', `GET http://${HOST}/ HTTP/9.9\r\nHost: ${HOST}\r\n\r\n`],
  ['NUL in the target', `GET http://${HOST}/\0 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`],
  ['header without a colon', `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nBroken header\r\n\r\n`],
  ['space before the colon', `GET http://${HOST}/ HTTP/1.1\r\nHost : ${HOST}\r\n\r\n`],
  ['bare CR inside a value (header injection)', `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nX-A: a\rInjected: 1\r\n\r\n`],
  ['NUL inside a value', `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nX-A: a\0b\r\n\r\n`],
  [
    'CL and TE together (smuggling)',
    `POST http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
  ],
  [
    'two different Content-Lengths',
    `POST http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 4\r\nContent-Length: 30\r\n\r\nabcdGET /smuggled HTTP/1.1\r\n\r\n`,
  ],
  ['obs-fold', `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nX-Folded: a\r\n b\r\n\r\n`],
  ['TE not ending in chunked', `POST http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`],
  ['chunk size overflow', `POST http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n`],
  ['binary noise', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 73) % 256)).toString('latin1')],
];

test('malformed requests, header injection and smuggling on the proxy listener → 400, closed; nothing smuggled upstream', async () => {
  const before = plain.requests;
  for (const [label, bytes] of MALFORMED) {
    const result = await rawExchange(harness.port, Buffer.from(bytes, 'latin1'));
    assertRefused(result, [400], label);
  }
  assert.equal(plain.requests, before, 'no malformed request reached the upstream');
  await assertServing();
});

test('the same inside a terminated tunnel (the inner parser): 400, closed, nothing smuggled', async () => {
  const before = upstream.requests;
  for (const [label, bytes] of MALFORMED) {
    const tls = await openTunnel(harness.port, HOST, caPem);
    tls.write(Buffer.from(bytes.replace(`http://${HOST}/`, '/'), 'latin1'));
    assertRefused(await collect(tls, 3000), [400], `tunnel: ${label}`);
  }
  assert.equal(upstream.requests, before, 'no malformed request reached the upstream');
  assert.ok(!upstream.seen.some((e) => e.url.includes('smuggled')));
});

test('oversized headers → 431 on both listeners', async () => {
  const big = `X-Big: ${'a'.repeat(8000)}\r\n`;
  assertRefused(await rawExchange(harness.port, `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\n${big}\r\n`), [431], 'proxy');
  const tls = await openTunnel(harness.port, HOST, caPem);
  tls.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n${big}\r\n`);
  assertRefused(await collect(tls, 3000), [431], 'tunnel');
  const adminBig = `X-Big: ${'a'.repeat(20_000)}\r\n`.repeat(4);
  assertRefused(await rawExchange(adminPort(), `GET /healthz HTTP/1.1\r\nHost: x\r\n${adminBig}\r\n`), [431], 'admin');
});

test('CR/LF in a header value cannot add a header upstream', async () => {
  // A value may hold neither CR nor LF once parsed; the encoded forms stay opaque text.
  const tls = await openTunnel(harness.port, HOST, caPem);
  tls.write(`GET /crlf HTTP/1.1\r\nHost: ${HOST}\r\nX-A: a%0d%0aInjected: 1\r\nConnection: close\r\n\r\n`);
  const { text } = await collect(tls, 3000);
  assert.match(text, /^HTTP\/1\.1 200 /);
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-a'], 'a%0d%0aInjected: 1');
  assert.equal(seen.headers.injected, undefined);
});

test('malformed requests to the admin listener → 400, closed; it keeps serving', async () => {
  for (const [label, bytes] of MALFORMED) {
    const result = await rawExchange(adminPort(), Buffer.from(bytes.replace(`http://${HOST}/`, '/healthz'), 'latin1'));
    assertRefused(result, [400], `admin: ${label}`);
  }
  const res = await request(`http://${admin.daemon.adminAddress}/healthz`);
  assert.equal(res.statusCode, 200);
  await res.body.text();
});

test('non-TLS bytes after CONNECT: a TLS-looking record of junk fails the handshake and closes', async () => {
  const raw = await openSocket(harness.port);
  raw.write(`CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`);
  raw.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0xee)]));
  const result = await collect(raw, 5000);
  assert.ok(result.closed);
  assert.match(result.text, /^HTTP\/1\.1 200 Connection Established\r\nX-Credproxy-Request-Id: [0-9a-f]{24}\r\n\r\n/);
  await eventually('the failed handshake connection', () =>
    harness.connections.some((e) => e.verdict === 'failed' && e.matchRule.startsWith('client TLS handshake failed: ')),
  );
  await assertServing();
});

test('TLS without SNI: the leaf for the CONNECT host is served and the request works', async () => {
  const tls = await openTunnel(harness.port, HOST, caPem, { servername: '' });
  tls.write(`GET /no-sni HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
  const { text } = await collect(tls, 3000);
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.equal(upstream.seen.at(-1)!.url, '/no-sni');
});

test('slowloris: headers trickled byte by byte are cut with 408 on the proxy, in a tunnel and on admin', async () => {
  const request = `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: ${'z'.repeat(200)}`;
  const outer = await openSocket(harness.port);
  trickle(outer, request, 50, 10_000);
  const tls = await openTunnel(harness.port, HOST, caPem);
  trickle(tls, request.replace(`http://${HOST}/`, '/'), 50, 10_000);
  const adminSocket = await openSocket(adminPort());
  trickle(adminSocket, request.replace(`http://${HOST}/`, '/healthz'), 50, 10_000);
  const silent = await openSocket(harness.port);

  const limit = HEADERS_TIMEOUT * 2 + 1500;
  const results = await Promise.all([collect(outer, 8000), collect(tls, 8000), collect(adminSocket, 8000), collect(silent, 8000)]);
  for (const [label, result] of [
    ['proxy', results[0]],
    ['tunnel', results[1]],
    ['admin', results[2]],
    ['silent proxy client', results[3]],
  ] as const) {
    assert.ok(result.closed, `${label}: still open after ${result.ms} ms`);
    assert.ok(result.ms < limit, `${label}: closed after ${result.ms} ms, limit ${limit}`);
    if (result.text !== '') assert.match(result.text, /^HTTP\/1\.1 408 /, label);
  }
  assert.match(results[0].text, /^HTTP\/1\.1 408 /);
  assert.match(results[1].text, /^HTTP\/1\.1 408 /);
  await assertServing();
});

test('the admin listener defaults to loopback, as does the proxy', async () => {
  const { loadConfig } = await import('../../src/config/load.js');
  const config = loadConfig({ env: {}, cwd: admin.dir, flags: {} });
  assert.equal(config.admin.listen, '127.0.0.1:8081');
  assert.equal(config.proxy.listen, '127.0.0.1:8080');
  assert.equal(config.proxy.headersTimeoutMs, 30_000);
  assert.equal(config.admin.headersTimeoutMs, 30_000);
});
