import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { curlViaProxy, proxyAgent } from '../helpers/clients.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { eventually, startProxy, type ProxyHarness } from '../helpers/harness/index.js';
import { startUpstream, type EchoBody, type TestUpstream } from '../helpers/upstream.js';

const HOST = 'api.example.test';
let upstreamPki: TestPki;
let upstream: TestUpstream;
let harness: ProxyHarness;

before(async () => {
  upstreamPki = await createTestPki('upstream-ca');
  upstream = await startUpstream({ pki: upstreamPki });
  harness = await startProxy({
    flags: {
      'upstream.resolve': [
        `${HOST}:443=127.0.0.1:${upstream.port}`,
        `other.example.test:443=127.0.0.1:${upstream.port}`,
        `ka.example.test:443=127.0.0.1:${upstream.port}`,
      ],
      'upstream.caFile': upstreamPki.caPath,
    },
  });
});

after(async () => {
  await harness.close();
  await upstream.close();
  await upstreamPki.remove();
});

test('GET through a CONNECT tunnel reaches the upstream with its CONNECT authority as Host', async () => {
  const agent = proxyAgent(harness.port, harness.pki.ca.certPem);
  try {
    const res = await request(`https://${HOST}/echo?x=1`, { dispatcher: agent, headers: { 'x-custom': 'kept' } });
    assert.equal(res.statusCode, 200);
    const echo = (await res.body.json()) as EchoBody;
    assert.equal(echo.method, 'GET');
    assert.equal(echo.url, '/echo?x=1');
    assert.equal(echo.headers.host, HOST);
    assert.equal(echo.headers['x-custom'], 'kept');
  } finally {
    await agent.close();
  }
  await eventually('the request event', () => harness.requests.length >= 1);
  const event = harness.requests.at(-1)!;
  assert.equal(event.path, '/echo');
  assert.equal(event.host, HOST);
  assert.equal(event.status, 200);
  assert.equal(event.upstreamStatus, 200);
  assert.equal(event.outcome, 'forwarded');
  assert.ok(event.upstreamMs !== undefined && event.latencyMs >= event.upstreamMs);
});

test('keep-alive: many requests share one tunnel and one upstream connection', async () => {
  const agent = proxyAgent(harness.port, harness.pki.ca.certPem, { connections: 1 });
  const tunnelsBefore = harness.tunnels.filter((t) => t === 1).length;
  const upstreamBefore = upstream.connections;
  try {
    for (let i = 0; i < 20; i++) {
      const res = await request(`https://ka.example.test/n/${i}`, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    }
  } finally {
    await agent.close();
  }
  assert.equal(harness.tunnels.filter((t) => t === 1).length - tunnelsBefore, 1);
  assert.equal(upstream.connections - upstreamBefore, 1);
  const row = await eventually('the keep-alive connection', () => harness.connections.find((c) => c.host === 'ka.example.test'));
  assert.equal(row.verdict, 'allowed');
  assert.equal(row.dstIp, '127.0.0.1');
  assert.equal(row.dstPort, 443);
  assert.match(row.matchRule, /^resolve /);
  assert.ok(row.bytesSent > 0 && row.bytesRecv > 0);
});

test('curl: several URLs in one run use one tunnel', async () => {
  const before = harness.tunnels.filter((t) => t === 1).length;
  const res = await curlViaProxy(harness.port, harness.pki.caPath, `https://${HOST}/a`, [`https://${HOST}/b`, `https://${HOST}/c`]);
  assert.equal(res.exitCode, 0);
  assert.equal(harness.tunnels.filter((t) => t === 1).length - before, 1);
});

test('curl: a Host header naming another host does not change the upstream', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, `https://${HOST}/who`, ['-H', 'Host: other.example.test']);
  assert.equal(res.status, 200, res.body);
  const echo = JSON.parse(res.body) as EchoBody;
  assert.equal(echo.headers.host, HOST);
});

test('hop-by-hop and Proxy-* headers never reach the upstream', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, `https://${HOST}/h`, [
    '-H',
    'Connection: keep-alive, X-Drop-Me',
    '-H',
    'X-Drop-Me: 1',
    '-H',
    'Keep-Alive: timeout=5',
    '-H',
    'TE: trailers',
    '-H',
    'Proxy-Authorization: Basic Zm9vOmJhcg==',
    '-H',
    'Proxy-Connection: keep-alive',
    '-H',
    'Proxy-Foo: bar',
    '-H',
    'Trailer: x',
    '-H',
    'X-Kept: yes',
  ]);
  assert.equal(res.status, 200, res.body);
  const echo = JSON.parse(res.body) as EchoBody;
  for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'proxy-foo', 'trailer']) {
    assert.equal(echo.headers[name], undefined, `${name} was forwarded`);
  }
  assert.equal(echo.headers['x-kept'], 'yes');
});

test("POST bodies stream upstream, with curl's Expect: 100-continue", async () => {
  const body = 'x'.repeat(2 * 1024 * 1024);
  const res = await curlViaProxy(harness.port, harness.pki.caPath, `https://${HOST}/upload`, [
    '--data-binary',
    body.slice(0, 10),
    '-H',
    'Expect: 100-continue',
  ]);
  assert.equal(res.status, 200, res.body);
  assert.equal((JSON.parse(res.body) as EchoBody).bodyBytes, 10);
  const agent = proxyAgent(harness.port, harness.pki.ca.certPem);
  try {
    const up = await request(`https://${HOST}/upload`, { dispatcher: agent, method: 'POST', body });
    assert.equal(((await up.body.json()) as EchoBody).bodyBytes, body.length);
  } finally {
    await agent.close();
  }
});
