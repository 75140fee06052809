import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { rawExchange } from '../helpers/clients.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { eventually, standInOf, startWorld, type UntypedJson, type World } from '../helpers/harness/index.js';
import type { ProxyAuditEvent, SandboxInfo } from '../../src/sdk/types.js';

/**
 * Tracing and accounting from a real daemon (docs/operations.md §4–5): every response the proxy
 * makes carries X-Credproxy-Request-Id and has one access log line under that id; the failures
 * that used to leave no trace (parser errors, 431, DNS failures at CONNECT, clients that do not
 * trust the CA) get a line and a metric; and every answered request is in
 * credproxy_requests_total, every refusal in credproxy_rejections_total.
 */

const ID = /^[0-9a-f]{24}$/;
const HANDSHAKE_TIMEOUT_MS = 300;

let pki: TestPki;
let spoofing: Server;
let world: World;
let sandbox: SandboxInfo;
/** Responses the proxy made to this file's clients, each of which must be one counted request. */
let answered = 0;

before(async () => {
  pki = await createTestPki('observability-upstream');
  // An upstream that tries to set the proxy's own header.
  spoofing = createServer({ SNICallback: pki.certs.sniCallback }, (_req, res) => {
    res.writeHead(200, { 'x-credproxy-request-id': 'forged-by-upstream', 'content-type': 'text/plain' }).end('spoof\n');
  });
  await new Promise<void>((resolve) => spoofing.listen(0, '127.0.0.1', resolve));
  world = await startWorld({
    upstreamPki: pki,
    resolve: [`spoof.test:443=127.0.0.1:${(spoofing.address() as AddressInfo).port}`],
    flags: { 'log.level': 'info', 'proxy.handshakeTimeoutMs': HANDSHAKE_TIMEOUT_MS, 'proxy.maxHeaderBytes': 8192 },
  });
  const secret = await world.daemon.api('POST', '/secrets', {
    name: 'alpha',
    value: 'real-observability-value-0123456789',
    auth: { type: 'bearer' },
    hosts: ['api.example.test', 'spoof.test'],
  });
  assert.equal(secret.status, 201, secret.text);
  sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'traced', secrets: { ALPHA: 'alpha' } })).json;
});

after(async () => {
  await world?.close();
  await new Promise((resolve) => spoofing?.close(resolve));
  await pki?.remove();
});

const proxyPort = (): number => Number(world.daemon.daemon.proxyAddress.split(':')[1]);
const proxyAuth = (): string => `Proxy-Authorization: Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}\r\n`;
const idIn = (text: string): string | undefined => /\r\nX-Credproxy-Request-Id: ([^\r]+)\r\n/i.exec(text)?.[1];

function accessLines(msg: 'request' | 'tunnel'): Array<Record<string, UntypedJson>> {
  return world.daemon.logs.entries().filter((e) => e.msg === msg);
}

async function lineFor(id: string | undefined, msg: 'request' | 'tunnel' = 'request'): Promise<Record<string, UntypedJson>> {
  assert.match(String(id), ID);
  return eventually(`the ${msg} line of ${id}`, () => accessLines(msg).find((e) => e.request_id === id));
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await world.daemon.api('GET', '/metrics')).text;
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(wanted ? `${name}{${wanted}} ` : `${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** curl through the proxy; `trust` false leaves out the proxy's CA. */
function curl(url: string, trust: boolean): Promise<{ exitCode: number; stdout: string }> {
  const proxy = `http://sb:${sandbox.access_token}@${world.daemon.daemon.proxyAddress}`;
  const args = ['-sS', '-i', '--max-time', '10', '--proxy', proxy, ...(trust ? ['--cacert', world.daemon.daemon.caPath] : []), url];
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'latin1' }, (err, stdout) => resolve({ exitCode: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }));
  });
}

test('every response carries a request id: forwarded, refused in a tunnel, at CONNECT, plain, and the upstream cannot forge it', async () => {
  const bearer = { authorization: `Bearer ${sandbox.env.ALPHA}` };
  const forwarded = await world.fetchAs(sandbox.access_token, 'https://api.example.test/traced?q=1', { headers: bearer });
  assert.equal(forwarded.status, 200);
  const line = await lineFor(forwarded.headers['x-credproxy-request-id'] as string);
  assert.deepEqual([line.path, line.status, line.secrets, line.outcome], ['/traced', 200, 'alpha', 'injected']);

  const mismatch = await world.fetchAs(sandbox.access_token, 'https://evil.test/x', { headers: bearer });
  assert.equal(mismatch.status, 403);
  assert.equal((await lineFor(mismatch.headers['x-credproxy-request-id'] as string)).error_code, 'credential_host_mismatch');

  const spoofed = await world.fetchAs(sandbox.access_token, 'https://spoof.test/', { headers: bearer });
  assert.equal(spoofed.status, 200);
  assert.match(String(spoofed.headers['x-credproxy-request-id']), ID, "the proxy's id replaces the upstream's");

  const plain = await world.fetchAs(sandbox.access_token, 'http://api.example.test/plain');
  assert.equal(plain.status, 200);
  assert.equal((await lineFor(plain.headers['x-credproxy-request-id'] as string)).host, 'api.example.test');

  const noAuth = await rawExchange(proxyPort(), 'GET http://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
  assert.match(noAuth.text, /^HTTP\/1\.1 407 /);
  assert.equal((await lineFor(idIn(noAuth.text))).error_code, 'proxy_auth_required');

  const connect = await rawExchange(proxyPort(), `CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n${proxyAuth()}\r\n`, 300);
  assert.match(connect.text, /^HTTP\/1\.1 200 Connection Established\r\n/);
  const tunnelId = idIn(connect.text);
  assert.match(String(tunnelId), ID, 'the 200 names the tunnel');
  const tunnel = await lineFor(tunnelId, 'tunnel');
  assert.equal(tunnel.sandbox_id, sandbox.id);
  // The CONNECT that opened a tunnel is in credproxy_tunnels_total; the requests inside it are requests.
  answered += 5;
});

test('a name that does not resolve at CONNECT: 502 upstream_unreachable, a line, a failed row, counted', async () => {
  const requests = await metric('credproxy_requests_total', { outcome: 'upstream_error' });
  const rejections = await metric('credproxy_rejections_total', { reason: 'upstream_unreachable' });
  const { text } = await rawExchange(proxyPort(), `CONNECT nowhere.invalid:443 HTTP/1.1\r\nHost: nowhere.invalid:443\r\n${proxyAuth()}\r\n`);
  answered++;
  assert.match(text, /^HTTP\/1\.1 502 [^]*X-Credproxy-Reason: upstream_unreachable/);
  const line = await lineFor(idIn(text));
  assert.deepEqual(
    [line.method, line.host, line.sandbox_id, line.status, line.error_code, line.outcome],
    ['CONNECT', 'nowhere.invalid', sandbox.id, 502, 'upstream_unreachable', 'upstream_error'],
  );
  assert.equal(await metric('credproxy_requests_total', { outcome: 'upstream_error' }), requests + 1);
  assert.equal(await metric('credproxy_rejections_total', { reason: 'upstream_unreachable' }), rejections + 1);
  const row = await eventually('the failed connection row', async () =>
    (await world.daemon.api('GET', `/sandboxes/${sandbox.id}/network?verdict=failed`)).json.data.find((r: ProxyAuditEvent) => r.request_id === line.request_id),
  );
  assert.equal(row.host, 'nowhere.invalid');
});

test('requests the http parser refuses: 400 and 431, with an id, a line and a count', async () => {
  const before = await metric('credproxy_rejections_total', { reason: 'bad_request' });
  const garbage = await rawExchange(proxyPort(), 'HELLO\r\n\r\n');
  assert.match(garbage.text, /^HTTP\/1\.1 400 /);
  const big = await rawExchange(proxyPort(), `GET http://api.example.test/ HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(10_000)}\r\n\r\n`);
  assert.match(big.text, /^HTTP\/1\.1 431 /);
  answered += 2;
  assert.deepEqual([(await lineFor(idIn(garbage.text))).status, (await lineFor(idIn(big.text))).status], [400, 431]);
  assert.equal((await lineFor(idIn(big.text))).error_code, 'bad_request');
  assert.equal(await metric('credproxy_rejections_total', { reason: 'bad_request' }), before + 2);
});

test('clients that fail the TLS handshake: unknown_ca (curl), closed (Node), timeout; each a failed tunnel line', async (t) => {
  const cause = (c: string) => metric('credproxy_client_tls_failures_total', { cause: c });
  const before = { unknown_ca: await cause('unknown_ca'), closed: await cause('closed'), timeout: await cause('timeout') };
  const tunnelsBefore = accessLines('tunnel').length;

  const untrusting = await curl('https://api.example.test/untrusting', false);
  if (untrusting.exitCode === 127) {
    assert.ok(process.env.CI !== 'true', 'CI installs curl');
    t.skip('curl not installed (apt-get install curl)');
    return;
  }
  assert.equal(untrusting.exitCode, 60, 'curl: the peer certificate cannot be authenticated');
  await eventually('unknown_ca counted', async () => (await cause('unknown_ca')) === before.unknown_ca + 1);

  await new Promise<void>((resolve) => {
    const raw = netConnect(proxyPort(), '127.0.0.1', () =>
      raw.write(`CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n${proxyAuth()}\r\n`),
    );
    raw.once('data', () => {
      const secure = tlsConnect({ socket: raw, servername: 'api.example.test' });
      secure.on('error', () => resolve());
    });
  });
  await eventually('closed counted', async () => (await cause('closed')) === before.closed + 1);

  // One byte of a ClientHello, then silence: the proxy gives up after proxy.handshakeTimeoutMs.
  const stalled = await rawExchange(
    proxyPort(),
    Buffer.concat([Buffer.from(`CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n${proxyAuth()}\r\n`), Buffer.from([0x16])]),
    HANDSHAKE_TIMEOUT_MS * 10,
  );
  assert.ok(stalled.closed, 'the stalled handshake was closed');
  await eventually('timeout counted', async () => (await cause('timeout')) === before.timeout + 1);

  const failed = await eventually('three failed tunnel lines', () => {
    const lines = accessLines('tunnel')
      .slice(tunnelsBefore)
      .filter((e) => e.verdict === 'failed');
    return lines.length >= 3 ? lines : undefined;
  });
  assert.deepEqual(failed.map((e) => /handshake failed: (\w+)/.exec(e.match_rule)?.[1]).sort(), ['closed', 'timeout', 'unknown_ca']);
  assert.ok(failed.every((e) => e.sandbox_id === sandbox.id && e.host === 'api.example.test' && e.requests === 0));
  assert.match(failed.find((e) => e.match_rule.includes('unknown_ca'))!.match_rule, /ERR_SSL_TLSV1_ALERT_UNKNOWN_CA/);
  // The CONNECTs themselves were answered (200) and are no requests: nothing was asked inside.
});

test('accounting: every response is one request, every refusal one rejection, one line each', async () => {
  // What this file's earlier tests and the TLS test's trusted retry add up to.
  const ok = await curl('https://api.example.test/accounted', true);
  assert.equal(ok.exitCode, 0);
  answered++;
  const text = (await world.daemon.api('GET', '/metrics')).text;
  const sum = (name: string, filter: (labels: string) => boolean = () => true) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && filter(l))
      .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  const requests = sum('credproxy_requests_total');
  assert.equal(requests, answered, 'credproxy_requests_total counts every response the proxy made');
  assert.equal(
    sum('credproxy_rejections_total'),
    sum('credproxy_requests_total', (l) => /outcome="(rejected|upstream_error)"/.test(l)),
  );
  assert.equal(accessLines('request').length, answered, 'one access line per response');
  assert.ok(accessLines('request').every((e) => e.level === 'info' && ID.test(e.request_id)));
  // Nothing in the lines that only the sandbox should hold.
  assert.ok(!world.daemon.logs.text.includes(sandbox.access_token), 'no access token');
  assert.ok(!world.daemon.logs.text.includes(standInOf(sandbox, 'ALPHA')), 'no stand-in');
  assert.ok(!world.daemon.logs.text.includes('real-observability-value'), 'no value');
  assert.ok(!world.daemon.logs.text.includes('q=1'), 'no query string');
});

test('X-Credproxy-Request-Id reaches undici clients through the API round trip', async () => {
  const agent = world.agentFor(sandbox.access_token);
  const res = await request('https://api.example.test/quoted', { dispatcher: agent, headers: { authorization: `Bearer ${sandbox.env.ALPHA}` } });
  await res.body.dump();
  answered++;
  const id = res.headers['x-credproxy-request-id'];
  const audit = await eventually('the audit row under the quoted id', async () =>
    (await world.daemon.api('GET', '/secrets/alpha/audit?limit=1000')).json.find((r: ProxyAuditEvent) => r.request_id === id),
  );
  assert.equal(audit.path, '/quoted');
});
