import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createMetrics, subscribeMetrics } from '../../../src/metrics/index.js';
import { ProxyEvents, type RequestEvent } from '../../../src/proxy/events.js';
import { REJECTIONS } from '../../../src/errors.js';

const PLANTED = 'sk-live-PLANTEDcanary0123456789';

function requestEvent(overrides: Partial<RequestEvent> = {}): RequestEvent {
  return {
    requestId: '0123456789abcdef01234567', ts: Date.now(), sandboxId: 'sb-1', sandboxName: 'one', matches: [], method: 'GET', host: 'api.example.com',
    path: '/v1/models', status: 200, upstreamStatus: 200, latencyMs: 120, upstreamMs: 119.5, errorCode: undefined,
    outcome: 'forwarded', refusedSecretIds: [], requestBytes: 0, responseBytes: 0, audited: true, ...overrides,
  };
}

/** `name{labels} value` → value, for one exact series. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function hasPromtool(): boolean {
  return spawnSync('sh', ['-c', 'command -v promtool'], { stdio: 'ignore' }).status === 0;
}

test('events land in the right series; histograms count what was emitted', async () => {
  const metrics = createMetrics({ defaultMetrics: false, auditQueue: { depth: 7, dropped: 3 } });
  const events = new ProxyEvents();
  subscribeMetrics(events, metrics);

  const match = { secretId: 's1', secretName: 'openai', authType: 'bearer', rule: 'secret openai allows api.openai.com' };
  for (let i = 0; i < 5; i++) events.emit('request', requestEvent({ matches: [match], outcome: 'injected' }));
  events.emit('request', requestEvent({ latencyMs: 90_000, upstreamMs: 89_999 }));
  events.emit('request', requestEvent({
    matches: [match], outcome: 'rejected', status: 403, errorCode: 'credential_host_mismatch', upstreamStatus: undefined, upstreamMs: undefined, latencyMs: 0.3,
  }));
  // A CONNECT refused: one request event (not audited: its connection row is its trace), one connection event.
  events.emit('request', requestEvent({
    method: 'CONNECT', path: '', status: 403, errorCode: 'host_denied', outcome: 'rejected', upstreamStatus: undefined, upstreamMs: undefined, latencyMs: 0.2, audited: false,
  }));
  events.emit('connection', {
    requestId: '0123456789abcdef01234567', ts: Date.now(), sandboxId: 'sb-1', sandboxName: 'one', host: 'evil.example', dstIp: undefined, dstPort: 443,
    verdict: 'blocked', matchRule: 'deny_out evil.example', bytesSent: 120, bytesRecv: 300, errorCode: 'host_denied',
  });
  events.emit('request', requestEvent({ matches: [match, { ...match, secretId: 's1b' }], outcome: 'injected', upstreamStatus: 401, requestBytes: 50, responseBytes: 7 }));
  events.emit('clientTlsFailure', 'unknown_ca');
  events.emit('tunnel', 1);
  events.emit('tunnel', 1);
  events.emit('tunnel', -1);
  events.emit('certCache', 'miss');
  events.emit('certCache', 'hit');
  events.emit('certCache', 'hit');

  const text = await metrics.text();
  assert.equal(sample(text, 'credproxy_requests_total{outcome="injected"}'), 6);
  assert.equal(sample(text, 'credproxy_requests_total{outcome="forwarded"}'), 1);
  assert.equal(sample(text, 'credproxy_requests_total{outcome="rejected"}'), 2);
  assert.equal(sample(text, 'credproxy_requests_total{outcome="client_aborted"}'), 0, 'pre-bound series start at 0');
  assert.equal(sample(text, 'credproxy_request_duration_seconds_count'), 9);
  assert.equal(sample(text, 'credproxy_request_duration_seconds_bucket{le="120"}'), 9);
  assert.equal(sample(text, 'credproxy_request_duration_seconds_bucket{le="60"}'), 8, 'the 90 s stream lands above 60 s');
  assert.equal(sample(text, 'credproxy_upstream_duration_seconds_count'), 7, 'the rejected requests never went upstream');
  assert.equal(sample(text, 'credproxy_proxy_overhead_seconds_count'), 7);
  assert.equal(sample(text, 'credproxy_proxy_overhead_seconds_bucket{le="0.0005"}'), 6, '0.5 ms overhead sits in the 500 µs bucket');
  assert.equal(sample(text, 'credproxy_proxy_overhead_seconds_bucket{le="0.001"}'), 7);
  assert.equal(sample(text, 'credproxy_injections_total{secret="openai",auth_type="bearer"}'), 7, 'refused matches are not injections');
  assert.equal(sample(text, 'credproxy_upstream_responses_total{secret="openai",class="2xx"}'), 5);
  assert.equal(sample(text, 'credproxy_upstream_responses_total{secret="openai",class="4xx"}'), 1, 'two bindings of one secret: one response');
  assert.equal(sample(text, 'credproxy_upstream_responses_total{secret="openai",class="5xx"}'), 0, 'every class is bound with the first');
  assert.equal(sample(text, 'credproxy_upstream_bytes_total{direction="sent"}'), 50);
  assert.equal(sample(text, 'credproxy_upstream_bytes_total{direction="received"}'), 7);
  assert.equal(sample(text, 'credproxy_client_bytes_total{direction="received"}'), 120);
  assert.equal(sample(text, 'credproxy_client_bytes_total{direction="sent"}'), 300);
  assert.equal(sample(text, 'credproxy_client_tls_failures_total{cause="unknown_ca"}'), 1);
  assert.equal(sample(text, 'credproxy_client_tls_failures_total{cause="timeout"}'), 0);
  assert.equal(sample(text, 'credproxy_rejections_total{reason="credential_host_mismatch"}'), 1);
  assert.equal(sample(text, 'credproxy_rejections_total{reason="host_denied"}'), 1);
  for (const code of Object.keys(REJECTIONS)) assert.ok(text.includes(`credproxy_rejections_total{reason="${code}"}`), code);
  assert.equal(sample(text, 'credproxy_active_tunnels'), 1);
  assert.equal(sample(text, 'credproxy_tunnels_total'), 2, 'tunnels opened, not open');
  assert.equal(sample(text, 'credproxy_cert_cache_total{result="hit"}'), 2);
  assert.equal(sample(text, 'credproxy_cert_cache_total{result="miss"}'), 1);
  assert.equal(sample(text, 'credproxy_cert_cache_total{result="coalesced"}'), 0);
  assert.equal(sample(text, 'credproxy_audit_queue_depth'), 7);
  assert.equal(sample(text, 'credproxy_audit_dropped_total'), 3);
});

test('the dropped counter follows the queue across scrapes', async () => {
  const queue = { depth: 0, dropped: 0 };
  const metrics = createMetrics({ defaultMetrics: false, auditQueue: queue });
  assert.equal(sample(await metrics.text(), 'credproxy_audit_dropped_total'), 0);
  queue.dropped = 4;
  assert.equal(sample(await metrics.text(), 'credproxy_audit_dropped_total'), 4);
  queue.dropped = 10;
  queue.depth = 2;
  const text = await metrics.text();
  assert.equal(sample(text, 'credproxy_audit_dropped_total'), 10);
  assert.equal(sample(text, 'credproxy_audit_queue_depth'), 2);
});

test('no label value carries a credential, host or path', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const events = new ProxyEvents();
  subscribeMetrics(events, metrics);
  events.emit('request', requestEvent({
    host: `${PLANTED}.example.com`, path: `/v1/${PLANTED}`, method: 'POST', outcome: 'injected',
    matches: [{ secretId: 's1', secretName: 'anthropic', authType: 'api-key', rule: `secret anthropic allows ${PLANTED}` }],
  }));
  events.emit('connection', {
    requestId: '0123456789abcdef01234567', ts: Date.now(), sandboxId: PLANTED, sandboxName: PLANTED, host: PLANTED, dstIp: '127.0.0.1', dstPort: 443,
    verdict: 'blocked', matchRule: PLANTED, bytesSent: 0, bytesRecv: 0, errorCode: 'proxy_auth_required',
  });
  const text = await metrics.text();
  assert.ok(!text.includes('PLANTED'), 'planted value reached /metrics');
  assert.ok(!text.includes('/v1/'), 'a path reached /metrics');
  assert.ok(!text.includes('example.com'), 'a host reached /metrics');
});

test('each catalogue has its own registry; nothing lands on the global one', async () => {
  const { register } = await import('prom-client');
  const a = createMetrics();
  const b = createMetrics();
  assert.notEqual(a.registry, b.registry);
  assert.equal(register.getSingleMetric('credproxy_requests_total'), undefined);
  assert.match(await a.text(), /^process_cpu_user_seconds_total /m, 'default process metrics, standard names');
  assert.match(a.registry.contentType, /^text\/plain; version=0\.0\.4/);
});

test('promtool check metrics passes', { skip: hasPromtool() ? false : 'promtool not installed (CI installs Debian\'s prometheus package)' }, async () => {
  const metrics = createMetrics();
  const events = new ProxyEvents();
  subscribeMetrics(events, metrics);
  events.emit('request', requestEvent({
    outcome: 'injected', matches: [{ secretId: 's1', secretName: 'github', authType: 'basic', rule: 'r' }],
  }));
  events.emit('certCache', 'coalesced');
  const text = await metrics.text();
  // promtool exits non-zero on errors and prints lint problems; either fails the test.
  const output = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  assert.equal(output.trim(), '');
});
