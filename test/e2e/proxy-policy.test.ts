import assert from 'node:assert/strict';
import { Transform } from 'node:stream';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { ProxyRejection } from '../../src/errors.js';
import type { EchoScrubber, ProxyPolicy, RequestTarget, SandboxIdentity } from '../../src/proxy/policy.js';
import { curlViaProxy, proxyAgent, rawExchange } from '../helpers/clients.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { eventually, startProxy } from '../helpers/harness/index.js';
import { startUpstream, type EchoBody, type TestUpstream } from '../helpers/upstream.js';

const SANDBOX: SandboxIdentity = { sandboxId: 'sb_1', sandboxName: 'one' };
const GOOD_AUTH = `Basic ${Buffer.from('sb:good-token').toString('base64')}`;
const STAND_IN = 'sk-standin-123';
const REAL = 'sk-REAL-canary-456';

/** Puts the stand-in back wherever the upstream echoes the real value (headers and body). */
const scrubber: EchoScrubber = {
  acceptEncoding: 'identity',
  scrubHeaders(headers) {
    for (const name in headers) if (headers[name] === REAL) headers[name] = STAND_IN;
  },
  bodyTransform(contentEncoding) {
    const transform = new Transform({
      transform(chunk: Buffer, _enc, done) {
        done(null, Buffer.from(chunk.toString('latin1').replaceAll(REAL, STAND_IN), 'latin1'));
      },
    });
    return { transform, contentEncoding };
  },
  scrubMessage(payload) {
    return Buffer.from(payload.toString('latin1').replaceAll(REAL, STAND_IN), 'latin1');
  },
};

/** A tiny stand-in policy: Basic sb:good-token, deny_out evil.example.test, x-api-key stand-in → real. */
const calls: Array<{ identity: SandboxIdentity | null; target: RequestTarget }> = [];
const policy: ProxyPolicy = {
  authenticate(header) {
    if (header !== GOOD_AUTH) throw new ProxyRejection('proxy_auth_required');
    return SANDBOX;
  },
  identifyTransparent() {
    throw new ProxyRejection('proxy_auth_required');
  },
  checkEgress(_identity, host) {
    if (host === 'evil.example.test') throw new ProxyRejection('host_denied', 'deny_out evil.example.test');
  },
  authorizeRequest(identity, target, headers) {
    calls.push({ identity, target });
    if (headers['x-api-key'] !== STAND_IN) return { matches: [], scrubber: undefined };
    if (!target.secure) throw new ProxyRejection('cleartext_injection_refused', undefined, 'sec_1');
    if (target.host === 'mismatch.example.test') throw new ProxyRejection('credential_host_mismatch', 'secret s allows api.example.test', 'sec_1');
    headers['x-api-key'] = REAL;
    return { matches: [{ secretId: 'sec_1', secretName: 's', authType: 'api-key', rule: 'secret s allows api.example.test' }], scrubber };
  },
};

let upstreamPki: TestPki;
let upstream: TestUpstream;
let harness: Awaited<ReturnType<typeof startProxy>>;

before(async () => {
  upstreamPki = await createTestPki('upstream-ca');
  upstream = await startUpstream({ pki: upstreamPki });
  harness = await startProxy({
    policy,
    flags: {
      'upstream.resolve': [
        `api.example.test:443=127.0.0.1:${upstream.port}`,
        `mismatch.example.test:443=127.0.0.1:${upstream.port}`,
        `evil.example.test:443=127.0.0.1:${upstream.port}`,
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

test('no or wrong Proxy-Authorization → 407 with Proxy-Authenticate, written before any tunnel', async () => {
  const { text } = await rawExchange(harness.port, 'CONNECT api.example.test:443 HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
  assert.match(text, /Proxy-Authenticate: Basic realm="credproxy"\r\n/);
  assert.match(text, /X-Credproxy-Error: true\r\nX-Credproxy-Reason: proxy_auth_required\r\n/);
  await eventually('the 407 connection', () => harness.connections.some((c) => c.errorCode === 'proxy_auth_required'));
  assert.equal(harness.tunnels.length, 0);
});

test('egress policy refusal → 403 host_denied at CONNECT', async () => {
  const { text } = await rawExchange(harness.port, `CONNECT evil.example.test:443 HTTP/1.1\r\nHost: a\r\nProxy-Authorization: ${GOOD_AUTH}\r\n\r\n`);
  assert.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.match(text, /X-Credproxy-Reason: host_denied\r\n/);
});

test('authorizeRequest rewrites headers; the upstream echo of the real value is scrubbed', async () => {
  const agent = proxyAgent(harness.port, harness.pki.ca.certPem, { token: GOOD_AUTH });
  try {
    const res = await request('https://api.example.test/v1?q=secret', { dispatcher: agent, headers: { 'x-api-key': STAND_IN } });
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    assert.ok(!text.includes(REAL), 'the real value reached the client');
    const echo = JSON.parse(text) as EchoBody;
    assert.equal(echo.headers['x-api-key'], STAND_IN);
    assert.equal(echo.headers['proxy-authorization'], undefined);
  } finally {
    await agent.close();
  }
  const call = calls.at(-1)!;
  assert.deepEqual(call.identity, SANDBOX);
  assert.deepEqual(call.target, { host: 'api.example.test', port: 443, secure: true });
  const event = await eventually('the injected request', () => harness.requests.find((e) => e.outcome === 'injected'));
  assert.equal(event.sandboxId, 'sb_1');
  assert.equal(event.path, '/v1');
  assert.equal(event.matches[0]!.secretId, 'sec_1');
  assert.ok(!harness.logs.text.includes(REAL) && !harness.logs.text.includes(STAND_IN));
});

test('a ProxyRejection from authorizeRequest is written with its code and recorded', async () => {
  const res = await curlViaProxy(harness.port, harness.pki.caPath, 'https://mismatch.example.test/x', [
    '--proxy-user',
    'sb:good-token',
    '-H',
    `X-Api-Key: ${STAND_IN}`,
  ]);
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'credential_host_mismatch');
  assert.ok(res.body.includes('secret s allows api.example.test'));
  const event = await eventually('the credential_host_mismatch request', () => harness.requests.find((e) => e.errorCode === 'credential_host_mismatch'));
  assert.equal(event.outcome, 'rejected');
  assert.deepEqual(event.refusedSecretIds, ['sec_1']);
  assert.equal(event.status, 403);
});

test('protected listeners stay unreachable even with allowPrivateNetworks or a resolve entry', async () => {
  const admin = await startUpstream({ pki: upstreamPki });
  const open = await startProxy({
    protectedAddresses: () => [{ address: '0.0.0.0', port: admin.port }],
    flags: {
      'egress.allowPrivateNetworks': true,
      'upstream.caFile': upstreamPki.caPath,
      'upstream.resolve': [`admin.example.test:443=127.0.0.1:${admin.port}`],
    },
  });
  try {
    for (const authority of [`127.0.0.1:${admin.port}`, 'admin.example.test:443', `127.0.0.1:${open.port}`]) {
      const { text } = await rawExchange(open.port, `CONNECT ${authority} HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.match(text, /X-Credproxy-Reason: internal_address_denied/, authority);
    }
    const { text } = await rawExchange(open.port, `CONNECT 127.0.0.1:${upstream.port} HTTP/1.1\r\nHost: a\r\n\r\n`, 300);
    assert.match(text, /^HTTP\/1\.1 200 Connection Established/);
  } finally {
    await open.close();
    await admin.close();
  }
});
