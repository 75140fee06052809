import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ProxyAgent, request } from 'undici';
import { rawExchange } from '../helpers/clients.js';
import { eventually, standInOf, startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { closedPort } from '../helpers/ports.js';
import type { SandboxInfo } from '../../src/sdk/types.js';

/**
 * /metrics after real traffic through the real daemon: the counters and histogram counts match the
 * requests this file made (the daemon is its own), and nothing the sandbox controls, nor any
 * credential, becomes part of the exposition.
 */

const REAL = `REAL-metrics-${randomBytes(8).toString('hex')}`;
const CANARY = randomBytes(6).toString('hex');
const PATH_CANARY = `/path-canary-${CANARY}`;
const QUERY_CANARY = `query-canary-${CANARY}`;
const HEADER_CANARY = `header-canary-${CANARY}`;
const HOST_CANARY = `host-canary-${CANARY}.test`;
const MAX_BODY = 1000;

let pki: TestPki;
let upstream: TestUpstream;
let d: TestDaemon;
let caPem: string;
let sandbox: SandboxInfo;
let deadPort: number;

before(async () => {
  pki = await createTestPki('metrics-upstream');
  upstream = await startUpstream({ pki });
  deadPort = await closedPort();
  d = await startDaemon({
    flags: {
      'upstream.resolve': [
        ...['api.example.test', 'evil.test', 'certs.example.test', HOST_CANARY].map((h) => `${h}:443=127.0.0.1:${upstream.port}`),
        `down.test:443=127.0.0.1:${deadPort}`,
      ],
      'upstream.caFile': pki.caPath,
      'proxy.maxBodyBytes': MAX_BODY,
    },
  });
  caPem = readFileSync(d.daemon.caPath, 'utf8');
  const secret = await d.api('POST', '/secrets', { name: 'alpha', value: REAL, auth: { type: 'bearer' }, hosts: ['api.example.test', 'down.test'] });
  assert.equal(secret.status, 201, secret.text);
  const created = await d.api('POST', '/sandboxes', { name: `sandbox-${CANARY}`, secrets: { ALPHA: 'alpha' } });
  assert.equal(created.status, 201, created.text);
  sandbox = created.json;
});

after(async () => {
  await d.close();
  await upstream.close();
  await pki.remove();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(): Promise<{ text: string; samples: Sample[]; value(name: string, labels?: Record<string, string>): number | undefined }> {
  const res = await d.api('GET', '/metrics');
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const samples = parseMetrics(res.text);
  return {
    text: res.text,
    samples,
    value(name, labels = {}) {
      const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return found?.value;
    },
  };
}

function agent(): ProxyAgent {
  const token = `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}`;
  return new ProxyAgent({ uri: `http://${d.daemon.proxyAddress}`, requestTls: { ca: caPem }, token });
}

async function call(client: ProxyAgent, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<number> {
  const res = await request(url, { dispatcher: client, method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  await res.body.dump();
  return res.statusCode;
}

test('counters and histograms count the requests made; no label carries sandbox data or a credential', async () => {
  const stand = { authorization: `Bearer ${sandbox.env.ALPHA}`, 'x-sandbox-canary': HEADER_CANARY };
  const clients = [agent(), agent()];
  const [one, two] = clients as [ProxyAgent, ProxyAgent];
  let active: number | undefined;
  try {
    for (let i = 0; i < 3; i++) assert.equal(await call(one, `https://api.example.test${PATH_CANARY}/${i}?${QUERY_CANARY}`, { headers: stand }), 200);
    for (let i = 0; i < 2; i++)
      assert.equal(await call(two, `https://${HOST_CANARY}${PATH_CANARY}?${QUERY_CANARY}`, { headers: { 'x-sandbox-canary': HEADER_CANARY } }), 200);
    assert.equal(await call(one, `https://evil.test${PATH_CANARY}`, { headers: stand }), 403);
    assert.equal(await call(one, `https://api.example.test${PATH_CANARY}`, { method: 'POST', headers: stand, body: 'z'.repeat(MAX_BODY + 1) }), 413);
    assert.equal(await call(one, `https://down.test${PATH_CANARY}`, { headers: stand }), 502);
    active = (await scrape()).value('credproxy_active_tunnels');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  const refused = await rawExchange(
    Number(d.daemon.proxyAddress.split(':')[1]),
    `CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\nX-Canary: ${HEADER_CANARY}\r\n\r\n`,
  );
  assert.match(refused.text, /^HTTP\/1\.1 407 /);
  assert.ok(active !== undefined && active >= 3, `tunnels open while clients are connected: ${active}`);

  const m = await eventually('every tunnel closed', async () => {
    const scraped = await scrape();
    return scraped.value('credproxy_active_tunnels') === 0 ? scraped : undefined;
  });
  // The CONNECT refused with 407 is a request the proxy answered: rejected, like the two refusals in tunnels.
  const outcomes = { injected: 3, forwarded: 2, rejected: 3, upstream_error: 1, client_aborted: 0 };
  for (const [outcome, n] of Object.entries(outcomes)) {
    assert.equal(m.value('credproxy_requests_total', { outcome }), n, `outcome ${outcome}`);
  }
  const requests = Object.values(outcomes).reduce((a, b) => a + b, 0);
  assert.equal(m.value('credproxy_request_duration_seconds_count'), requests);
  assert.equal(m.value('credproxy_request_duration_seconds_bucket', { le: '+Inf' }), requests);
  // Every refusal is one rejection: they add up to the refused requests.
  const rejected = m.samples.filter((x) => x.name === 'credproxy_rejections_total').reduce((sum, x) => sum + x.value, 0);
  assert.equal(rejected, outcomes.rejected + outcomes.upstream_error);
  // The three injected requests got 2xx from the upstream; the one to down.test got no response.
  assert.equal(m.value('credproxy_upstream_responses_total', { secret: 'alpha', class: '2xx' }), 3);
  assert.equal(m.value('credproxy_upstream_responses_total', { secret: 'alpha', class: '5xx' }), 0);
  assert.ok(m.value('credproxy_tunnels_total')! >= 4, 'api.example.test, the canary host, evil.test, down.test');
  assert.ok(m.value('credproxy_client_bytes_total', { direction: 'received' })! > 0);
  assert.ok(m.value('credproxy_client_bytes_total', { direction: 'sent' })! > 0);
  assert.ok(m.value('credproxy_upstream_bytes_total', { direction: 'received' })! > 0, 'the echo bodies');
  // Dispatched upstream: the injected, the forwarded and the one whose upstream was down.
  assert.equal(m.value('credproxy_upstream_duration_seconds_count'), 6);
  assert.equal(m.value('credproxy_proxy_overhead_seconds_count'), 6);
  assert.ok(m.value('credproxy_request_duration_seconds_sum')! > 0);
  // Injected into the three that reached the upstream and the one whose upstream was down; the
  // refused two (host mismatch, body too large) were never injected.
  assert.equal(m.value('credproxy_injections_total', { secret: 'alpha', auth_type: 'bearer' }), 4);
  const rejections = { credential_host_mismatch: 1, body_too_large: 1, upstream_unreachable: 1, proxy_auth_required: 1, host_denied: 0 };
  for (const [reason, n] of Object.entries(rejections)) {
    assert.equal(m.value('credproxy_rejections_total', { reason }), n, `reason ${reason}`);
  }
  assert.ok(m.value('credproxy_audit_queue_depth') !== undefined);
  assert.ok(m.value('credproxy_audit_dropped_total') !== undefined);
  assert.ok(m.value('process_cpu_user_seconds_total') !== undefined, 'default process metrics');

  // Not in a label, and not anywhere else in the exposition either.
  const forbidden = [CANARY, REAL, standInOf(sandbox, 'ALPHA'), sandbox.access_token, sandbox.id, 'evil.test', 'down.test', 'api.example.test'];
  for (const value of forbidden) assert.ok(!m.text.includes(value), `/metrics contains ${value}`);
  for (const sample of m.samples) {
    for (const value of Object.values(sample.labels)) assert.ok(!value.includes('/'), `a path-like label value: ${sample.name} ${value}`);
  }
});

test('cert cache: a new host is a miss, the next tunnel to it a hit', async () => {
  const before = await scrape();
  const miss0 = before.value('credproxy_cert_cache_total', { result: 'miss' })!;
  const first = agent();
  await call(first, 'https://certs.example.test/').finally(() => first.close());
  const afterFirst = await scrape();
  assert.equal(afterFirst.value('credproxy_cert_cache_total', { result: 'miss' }), miss0 + 1);
  const hit1 = afterFirst.value('credproxy_cert_cache_total', { result: 'hit' })!;
  const second = agent();
  await call(second, 'https://certs.example.test/').finally(() => second.close());
  const afterSecond = await scrape();
  assert.equal(afterSecond.value('credproxy_cert_cache_total', { result: 'miss' }), miss0 + 1, 'no second mint');
  assert.ok(afterSecond.value('credproxy_cert_cache_total', { result: 'hit' })! > hit1);
});

test('promtool check metrics accepts the exposition', async (t) => {
  let promtool: string;
  try {
    promtool = execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim();
  } catch {
    t.skip("promtool not installed (CI installs Debian's prometheus package)");
    return;
  }
  const { text } = await scrape();
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = execFile(promtool, ['check', 'metrics'], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
  assert.equal(result.code, 0, result.output);
});

test('admin.metricsAuth=true: /metrics needs the API key', async () => {
  const locked = await startDaemon({ flags: { 'admin.metricsAuth': true } });
  try {
    const anonymous = await locked.api('GET', '/metrics', undefined, { 'x-api-key': '' });
    assert.equal(anonymous.status, 401);
    const wrong = await locked.api('GET', '/metrics', undefined, { 'x-api-key': 'not-the-key-0123456789' });
    assert.equal(wrong.status, 401);
    const keyed = await locked.api('GET', '/metrics');
    assert.equal(keyed.status, 200);
    assert.match(keyed.text, /^# HELP /m);
  } finally {
    await locked.close();
  }
  const open = await fetch(`http://${d.daemon.adminAddress}/metrics`);
  assert.equal(open.status, 200, 'without metricsAuth no key is needed');
  await open.text();
});
