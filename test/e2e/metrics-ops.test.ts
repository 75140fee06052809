import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect, Server } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import { rawExchange } from '../helpers/clients.js';
import { startDaemon, startWorld, type TestDaemon, type World } from '../helpers/harness/index.js';

/**
 * What an operator alerts on, from a real daemon: build info, leaf certificate mints (latency and
 * errors), readiness (/readyz and credproxy_ready), and metrics on a listener of their own.
 */

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
let world: World;
let sandbox: { access_token: string };

before(async () => {
  world = await startWorld({ flags: { 'metrics.listen': '127.0.0.1:0', 'admin.metricsAuth': true, 'egress.allowPrivateNetworks': true } });
  sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'metrics-ops', secrets: {} })).json;
});
after(() => world.close());

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await request(url, { headers });
  return { status: res.statusCode, text: await res.body.text() };
}

const metricsUrl = (): string => `http://${world.daemon.daemon.metricsAddress}/metrics`;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** CONNECT `host` (a name upstream.resolve pins), then a TLS handshake sending `servername`; resolves with its error, if any. */
function handshake(host: string, servername = host): Promise<Error | undefined> {
  const [proxyHost, proxyPort] = world.daemon.daemon.proxyAddress.split(':') as [string, string];
  return new Promise((resolve) => {
    const raw = netConnect(Number(proxyPort), proxyHost);
    raw.write(
      `CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\nProxy-Authorization: Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}\r\n\r\n`,
    );
    raw.once('data', () => {
      const secure = tlsConnect({ socket: raw, servername, ca: world.caPem, checkServerIdentity: () => undefined });
      secure.once('secureConnect', () => {
        secure.destroy();
        resolve(undefined);
      });
      secure.once('error', (err) => {
        raw.destroy();
        resolve(err);
      });
    });
    raw.on('error', (err) => resolve(err));
  });
}

test('credproxy_build_info names this version and Node.js', async () => {
  const { text } = await get(metricsUrl());
  assert.equal(sample(text, `credproxy_build_info{version="${VERSION}",node_version="${process.version}"}`), 1);
});

test('a new host mints one leaf (its latency observed); a name that cannot be one is counted as an error', async () => {
  const before = await get(metricsUrl());
  const count = (text: string) => sample(text, 'credproxy_cert_mint_duration_seconds_count') ?? 0;
  assert.equal(sample(before.text, 'credproxy_cert_mint_errors_total{reason="invalid_name"}'), 0, 'bound from the start');
  assert.equal(await handshake('b.a.example.test'), undefined);
  assert.equal(await handshake('b.a.example.test'), undefined, 'the second handshake is served from the cache');
  assert.ok(await handshake('b.a.example.test', 'not_a host!'), 'no certificate for an SNI that is no host name');
  const afterwards = await get(metricsUrl());
  assert.equal(count(afterwards.text) - count(before.text), 1);
  assert.ok((sample(afterwards.text, 'credproxy_cert_mint_duration_seconds_sum') ?? 0) > 0);
  assert.equal(sample(afterwards.text, 'credproxy_cert_mint_errors_total{reason="invalid_name"}'), 1);
  assert.equal(sample(afterwards.text, 'credproxy_cert_mint_errors_total{reason="failed"}'), 0);
});

test('/readyz reports each check; /healthz stays a plain liveness answer', async () => {
  const admin = `http://${world.daemon.daemon.adminAddress}`;
  const ready = await get(`${admin}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(JSON.parse(ready.text), { status: 'ready', checks: { proxy: 'ok', audit: 'ok' } });
  assert.deepEqual(JSON.parse((await get(`${admin}/healthz`)).text), { status: 'ok' });
  const { text } = await get(metricsUrl());
  assert.equal(sample(text, 'credproxy_ready{check="proxy"}'), 1);
  assert.equal(sample(text, 'credproxy_ready{check="audit"}'), 1);
});

test('metrics.listen: /metrics, /healthz and /readyz without a key there, nothing else; admin /metrics keeps its key', async () => {
  const base = `http://${world.daemon.daemon.metricsAddress}`;
  assert.equal((await get(`${base}/metrics`)).status, 200);
  assert.equal((await get(`${base}/healthz`)).status, 200);
  assert.equal((await get(`${base}/readyz`)).status, 200);
  assert.equal((await get(`${base}/secrets`, { 'x-api-key': world.daemon.daemon.apiKey })).status, 404, 'the admin API is not served there');
  const admin = `http://${world.daemon.daemon.adminAddress}`;
  assert.equal((await get(`${admin}/metrics`)).status, 401, 'admin.metricsAuth still holds on the admin listener');
  assert.equal((await get(`${admin}/metrics`, { 'x-api-key': world.daemon.daemon.apiKey })).status, 200);
  assert.ok(
    world.daemon.logs.entries().some((e) => e.msg === 'ready' && e.metrics === world.daemon.daemon.metricsAddress),
    'the ready line names it',
  );
});

test('the metrics listener is never reachable through the proxy, even with private networks allowed', async () => {
  const token = Buffer.from(`sb:${sandbox.access_token}`).toString('base64');
  const port = Number(world.daemon.daemon.proxyAddress.split(':')[1]);
  const { text } = await rawExchange(
    port,
    `CONNECT ${world.daemon.daemon.metricsAddress} HTTP/1.1\r\nHost: ${world.daemon.daemon.metricsAddress}\r\nProxy-Authorization: Basic ${token}\r\n\r\n`,
    1000,
  );
  assert.match(text, /^HTTP\/1\.1 403 /);
  assert.match(text, /X-Credproxy-Reason: internal_address_denied/i);
});

/**
 * A daemon of its own (the test breaks it), with a handle on its listening sockets and audit writer
 * thread: the only way a test can make a real listener stop or the writer die.
 */
async function breakableDaemon(t: import('node:test').TestContext): Promise<{ daemon: TestDaemon; servers: Server[]; writer: () => Worker }> {
  const servers: Server[] = [];
  let writer: Worker | undefined;
  const listen = Server.prototype.listen;
  t.mock.method(Server.prototype, 'listen', function (this: Server, ...args: unknown[]) {
    servers.push(this);
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  });
  const unref = Worker.prototype.unref;
  t.mock.method(Worker.prototype, 'unref', function (this: Worker) {
    writer = this; // the audit writer unrefs itself once started
    unref.call(this);
  });
  const daemon = await startDaemon({ flags: { 'metrics.listen': '127.0.0.1:0' } });
  t.mock.restoreAll();
  t.after(() => daemon.close());
  return { daemon, servers, writer: () => writer! };
}

async function readiness(daemon: TestDaemon): Promise<{ admin: { status: number; body: unknown }; metrics: string }> {
  const res = await get(`http://${daemon.daemon.adminAddress}/readyz`);
  return { admin: { status: res.status, body: JSON.parse(res.text) }, metrics: (await get(`http://${daemon.daemon.metricsAddress}/metrics`)).text };
}

test('/readyz turns 503 (proxy failing) when the proxy listener stops accepting; /healthz stays 200', async (t) => {
  const { daemon, servers } = await breakableDaemon(t);
  assert.equal((await readiness(daemon)).admin.status, 200);
  const port = Number(daemon.daemon.proxyAddress.split(':')[1]);
  const proxyServer = servers.find((s) => (s.address() as { port?: number } | null)?.port === port);
  assert.ok(proxyServer, 'the proxy listener was found');
  await new Promise<void>((resolve) => proxyServer.close(() => resolve()));
  const { admin, metrics } = await readiness(daemon);
  assert.equal(admin.status, 503);
  assert.deepEqual(admin.body, { status: 'not_ready', checks: { proxy: 'failing', audit: 'ok' } });
  assert.equal(sample(metrics, 'credproxy_ready{check="proxy"}'), 0);
  assert.equal(sample(metrics, 'credproxy_ready{check="audit"}'), 1);
  assert.equal((await get(`http://${daemon.daemon.adminAddress}/healthz`)).status, 200, 'still alive: no restart loop');
});

test('/readyz turns 503 (audit failing) when the audit writer thread dies; the proxy keeps serving', async (t) => {
  const { daemon, writer } = await breakableDaemon(t);
  assert.equal((await readiness(daemon)).admin.status, 200);
  await writer().terminate(); // stands in for a crash of the writer thread
  const { admin, metrics } = await readiness(daemon);
  assert.equal(admin.status, 503);
  assert.deepEqual(admin.body, { status: 'not_ready', checks: { proxy: 'ok', audit: 'failing' } });
  assert.equal(sample(metrics, 'credproxy_ready{check="audit"}'), 0);
  assert.ok(daemon.logs.entries().some((e) => e.msg === 'audit writer stopped; audit rows are dropped from now on'));
  const port = Number(daemon.daemon.proxyAddress.split(':')[1]);
  const { text } = await rawExchange(port, 'GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n', 1000);
  assert.match(text, /^HTTP\/1\.1 407 /, 'the proxy still answers');
});
