import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildAdminApp } from '../../src/api/app.js';
import { AuditQueue, subscribeAudit } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics, subscribeMetrics } from '../../src/metrics/index.js';
import { ProxyEvents, type RequestEvent } from '../../src/proxy/events.js';
import { SecretCipher } from '../../src/secrets/crypto.js';
import type { EventRow } from '../../src/store/events.js';
import { openStore } from '../../src/store/index.js';
import { connectionRowFixture, memoryLogger, requestRowFixture } from '../helpers/event-rows.js';

const API_KEY = 'test-admin-key-0123456789abcdef';
const CANARY = `sk-proj-CANARY${randomBytes(16).toString('hex')}`;

/** The admin API with the audit, network and metrics routes, on 127.0.0.1:0, over a real store. */
async function startAdmin(t: TestContext, options: { metricsAuth?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-api-audit-'));
  const config = loadConfig({ cwd: dir, env: {}, flags: { 'audit.flushIntervalMs': 10, 'admin.metricsAuth': options.metricsAuth ?? false } });
  const { logger } = memoryLogger();
  const store = openStore({ dataDir: dir, cipher: new SecretCipher(randomBytes(32)) });
  const repo = store.events;
  const queue = new AuditQueue(repo, { config, logger });
  const metrics = createMetrics({ auditQueue: queue });
  const events = new ProxyEvents();
  subscribeAudit(events, queue);
  subscribeMetrics(events, metrics);

  const app = buildAdminApp({
    config,
    logger,
    apiKey: API_KEY,
    caCertPem: 'unused',
    metrics: metrics.registry,
    controlPlane: { store, sandboxEnv: { proxyUrl: 'http://127.0.0.1:8080', caPath: join(dir, 'ca-bundle.pem') } },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  t.after(async () => {
    await app.close();
    queue.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(path: string, init: { method?: string; body?: unknown; key?: string | null } = {}) {
    const headers: Record<string, string> = {};
    if (init.key !== null) headers['x-api-key'] = init.key ?? API_KEY;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      text,
      json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined,
    };
  }

  const secret = async (name: string) =>
    (await call('/secrets', { method: 'POST', body: { name, value: CANARY, auth: { type: 'bearer' }, hosts: ['api.example.com'] } })).json.id as string;
  const sandbox = async (name: string, secrets: Record<string, string> = {}) =>
    (await call('/sandboxes', { method: 'POST', body: { name, secrets } })).json.id as string;
  return { call, secret, sandbox, repo, queue, events };
}

function requestEvent(overrides: Partial<RequestEvent>): RequestEvent {
  return {
    requestId: '0123456789abcdef01234567',
    ts: Date.now(),
    sandboxId: undefined,
    sandboxName: undefined,
    matches: [],
    method: 'POST',
    host: 'api.example.com',
    path: '/v1/chat',
    status: 200,
    upstreamStatus: 200,
    latencyMs: 40,
    upstreamMs: 39,
    errorCode: undefined,
    outcome: 'forwarded',
    refusedSecretIds: [],
    requestBytes: 0,
    responseBytes: 0,
    audited: true,
    ...overrides,
  };
}

test('audit: a multi-secret request shows under each secret; filters, paging and validation', async (t) => {
  const api = await startAdmin(t);
  const s1 = await api.secret('openai');
  const s2 = await api.secret('anthropic');
  const sb = await api.sandbox('agent', { A: 'openai', B: 'anthropic' });
  const match = (secretId: string, secretName: string) => ({ secretId, secretName, authType: 'bearer', rule: `secret ${secretName}` });

  api.events.emit(
    'request',
    requestEvent({ sandboxId: sb, sandboxName: 'agent', matches: [match(s1, 'openai'), match(s2, 'anthropic')], outcome: 'injected' }),
  );
  api.events.emit(
    'request',
    requestEvent({
      sandboxId: sb,
      sandboxName: 'agent',
      host: 'api.evil.example',
      status: 403,
      upstreamStatus: undefined,
      upstreamMs: undefined,
      errorCode: 'credential_host_mismatch',
      outcome: 'rejected',
      refusedSecretIds: [s1],
    }),
  );
  api.events.emit('request', requestEvent({ sandboxId: sb, sandboxName: 'agent', path: '/no-secret' }));
  api.queue.close(); // the SIGTERM path: everything pushed is written

  const all = await api.call('/secrets/openai/audit');
  assert.equal(all.status, 200);
  assert.equal(all.json.length, 2);
  const [refused, injected] = all.json;
  assert.equal(refused.status, 403);
  assert.equal(refused.error_code, 'credential_host_mismatch');
  assert.equal(refused.upstream_status, undefined);
  assert.ok(refused.id > injected.id, 'newest first');
  assert.deepEqual(Object.keys(injected), [
    'id',
    'ts',
    'sandbox_id',
    'sandbox_name',
    'secret_id',
    'method',
    'host',
    'path',
    'status',
    'upstream_status',
    'latency_ms',
    'request_id',
  ]);
  assert.equal(injected.sandbox_id, sb);
  assert.equal(injected.secret_id, s1);
  assert.match(injected.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const other = await api.call('/secrets/anthropic/audit');
  assert.deepEqual(
    other.json.map((e: { secret_id: string; path: string }) => [e.secret_id, e.path]),
    [[s2, '/v1/chat']],
  );

  assert.deepEqual(
    (await api.call('/secrets/openai/audit?status=errors')).json.map((e: { status: number }) => e.status),
    [403],
  );
  assert.deepEqual(
    (await api.call('/secrets/openai/audit?status=2xx')).json.map((e: { status: number }) => e.status),
    [200],
  );
  assert.equal((await api.call('/secrets/openai/audit?status=5xx')).json.length, 0);
  assert.deepEqual(
    (await api.call(`/secrets/openai/audit?before=${refused.id}`)).json.map((e: { id: number }) => e.id),
    [injected.id],
  );
  assert.equal((await api.call('/secrets/openai/audit?limit=1')).json.length, 1);

  const bad = async (query: string, message: string) => {
    const res = await api.call(`/secrets/openai/audit?${query}`);
    assert.equal(res.status, 400, query);
    assert.deepEqual(res.json, { error: { code: 'bad_request', message } }, query);
  };
  await bad('limit=0', 'limit must be a positive integer');
  await bad('limit=abc', 'limit must be a positive integer');
  await bad('limit=-5', 'limit must be a positive integer');
  await bad('limit=1001', 'limit must be <= 1000');
  await bad('status=2XX', 'status must be one of: 2xx, 3xx, 4xx, 5xx, errors');
  await bad('before=x1', 'before must be a positive integer');
  const missing = await api.call('/secrets/nope/audit');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: { code: 'not_found', message: 'Secret not found' } });
  assert.equal((await api.call('/secrets/openai/audit', { key: null })).status, 401);
  assert.equal((await api.call('/secrets/openai/audit', { key: 'wrong-key-wrong-key-wrong' })).status, 401);
});

test('audit and network page through 2,500 rows exactly once each', async (t) => {
  const api = await startAdmin(t);
  const secretId = await api.secret('openai');
  const sb = await api.sandbox('agent', { A: 'openai' });
  const rows: EventRow[] = [];
  const ts = Date.now();
  for (let i = 0; i < 2500; i++) {
    rows.push(i % 2 === 0 ? requestRowFixture({ ts, sandboxId: sb, secretId, path: `/r${i}` }) : connectionRowFixture({ ts, sandboxId: sb }));
    rows.push(requestRowFixture({ ts, sandboxId: 'another', secretId: 'other' }));
  }
  api.repo.insertBatch(rows);
  // 1250 audit rows for the secret; page until empty.
  const auditIds = new Set<number>();
  let before = '';
  for (let page = 0; page < 20; page++) {
    const res = await api.call(`/secrets/openai/audit?limit=300${before}`);
    assert.equal(res.status, 200);
    if (res.json.length === 0) break;
    for (const e of res.json) {
      assert.ok(!auditIds.has(e.id));
      auditIds.add(e.id);
    }
    before = `&before=${res.json[res.json.length - 1].id}`;
  }
  assert.equal(auditIds.size, 1250);

  const networkIds = new Set<number>();
  let cursor = '';
  let pages = 0;
  for (; pages < 20; pages++) {
    const res = await api.call(`/sandboxes/${sb}/network?limit=1000${cursor}`);
    assert.equal(res.status, 200);
    for (const e of res.json.data) {
      assert.ok(!networkIds.has(e.id));
      networkIds.add(e.id);
    }
    if (!res.json.has_more) {
      assert.equal(res.json.next_cursor, null);
      break;
    }
    cursor = `&before=${encodeURIComponent(res.json.next_cursor)}`;
  }
  assert.equal(networkIds.size, 2500);
  assert.equal(pages, 2);
});

test('network: since, verdict, validation and 404', async (t) => {
  const api = await startAdmin(t);
  const sb = await api.sandbox('agent');
  const t0 = Date.UTC(2025, 2, 1, 10, 0, 0);
  api.events.emit('connection', {
    requestId: 'fedcba9876543210fedcba98',
    ts: t0,
    sandboxId: sb,
    sandboxName: 'agent',
    host: 'api.example.com',
    dstIp: '127.0.0.1',
    dstPort: 443,
    verdict: 'allowed',
    matchRule: 'allow_out *',
    bytesSent: 5,
    bytesRecv: 9,
    errorCode: undefined,
  });
  api.events.emit('connection', {
    requestId: 'fedcba9876543210fedcba99',
    ts: t0 + 60_000,
    sandboxId: sb,
    sandboxName: 'agent',
    host: 'blocked.example',
    dstIp: undefined,
    dstPort: 443,
    verdict: 'blocked',
    matchRule: 'deny_out blocked.example',
    bytesSent: 0,
    bytesRecv: 0,
    errorCode: 'host_denied',
  });
  api.events.emit('request', requestEvent({ ts: t0 + 120_000, sandboxId: sb, sandboxName: 'agent' }));
  // Written by the queue's timer (flushIntervalMs 10), as in the daemon.
  for (let i = 0; i < 100 && api.queue.depth > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));

  const all = (await api.call(`/sandboxes/${sb}/network`)).json;
  assert.deepEqual(
    all.data.map((e: { kind: string }) => e.kind),
    ['request', 'connection', 'connection'],
  );
  assert.equal(all.has_more, false);
  assert.deepEqual(all.data[1], {
    kind: 'connection',
    id: all.data[1].id,
    ts: '2025-03-01T10:01:00.000Z',
    host: 'blocked.example',
    dst_port: 443,
    verdict: 'blocked',
    match_rule: 'deny_out blocked.example',
    bytes_sent: 0,
    bytes_recv: 0,
    error_code: 'host_denied',
    request_id: 'fedcba9876543210fedcba99',
  });
  const since = (await api.call(`/sandboxes/${sb}/network?since=2025-03-01T11:01:00%2B01:00`)).json;
  assert.equal(since.data.length, 2, 'since is inclusive and honours the offset');
  const blocked = (await api.call(`/sandboxes/${sb}/network?verdict=blocked`)).json;
  assert.deepEqual(
    blocked.data.map((e: { host: string }) => e.host),
    ['blocked.example'],
  );
  const firstPage = (await api.call(`/sandboxes/${sb}/network?limit=1`)).json;
  assert.equal(firstPage.has_more, true);
  const secondPage = (await api.call(`/sandboxes/${sb}/network?limit=1&before=${firstPage.next_cursor}`)).json;
  assert.equal(secondPage.data[0].verdict, 'blocked');

  const bad = async (query: string, message: RegExp) => {
    const res = await api.call(`/sandboxes/${sb}/network?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.json.error.code, 'bad_request');
    assert.match(res.json.error.message, message, query);
  };
  await bad('before=123', /^before must be the next_cursor of a previous page$/);
  await bad('before=%21%21', /^before must be the next_cursor of a previous page$/);
  await bad('since=yesterday', /^since must be an RFC 3339 timestamp/);
  await bad('since=2025-03-01', /^since must be an RFC 3339 timestamp/);
  await bad('verdict=denied', /^verdict must be one of: allowed, blocked, failed$/);
  await bad('limit=5000', /^limit must be <= 1000$/);
  const missing = await api.call('/sandboxes/not-a-sandbox/network');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: { code: 'not_found', message: 'Sandbox not found' } });
});

test('/metrics: Prometheus text without auth by default, counts the traffic, holds no credential or path', async (t) => {
  const api = await startAdmin(t);
  const secretId = await api.secret('openai');
  api.events.emit(
    'request',
    requestEvent({
      path: '/v1/planted-path-marker',
      host: 'planted-host-marker.example',
      matches: [{ secretId, secretName: 'openai', authType: 'bearer', rule: 'r' }],
      outcome: 'injected',
    }),
  );
  const res = await api.call('/metrics', { key: null });
  assert.equal(res.status, 200);
  assert.match(res.contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(res.text, /^credproxy_requests_total\{outcome="injected"\} 1$/m);
  assert.match(res.text, /^credproxy_injections_total\{secret="openai",auth_type="bearer"\} 1$/m);
  assert.match(res.text, /^credproxy_request_duration_seconds_count 1$/m);
  assert.match(res.text, /^credproxy_audit_queue_depth \d+$/m);
  assert.match(res.text, /^process_cpu_user_seconds_total /m);
  assert.ok(!res.text.includes('planted'), 'a host or path reached /metrics');
  assert.ok(!res.text.includes(CANARY), 'the secret value reached /metrics');

  api.queue.close();
  const audit = await api.call('/secrets/openai/audit');
  assert.equal(audit.json.length, 1);
  assert.ok(!audit.text.includes(CANARY), 'the secret value reached the audit trail');
});

test('/metrics needs the API key when admin.metricsAuth is set', async (t) => {
  const api = await startAdmin(t, { metricsAuth: true });
  assert.equal((await api.call('/metrics', { key: null })).status, 401);
  assert.equal((await api.call('/metrics')).status, 200);
});
