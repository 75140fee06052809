import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditQueue } from '../../../src/audit/queue.js';
import { subscribeAudit } from '../../../src/audit/subscribe.js';
import { ProxyEvents, type ConnectionEvent, type RequestEvent } from '../../../src/proxy/events.js';
import type { CredentialMatch } from '../../../src/proxy/policy.js';
import type { EventRow } from '../../../src/store/events.js';
import { memoryLogger } from '../../helpers/event-rows.js';

const TS = Date.UTC(2025, 0, 2);

function requestEvent(overrides: Partial<RequestEvent> = {}): RequestEvent {
  return {
    requestId: '0123456789abcdef01234567', ts: TS, sandboxId: 'sb-1', sandboxName: 'one', matches: [], method: 'POST', host: 'api.example.com',
    path: '/v1/messages', status: 200, upstreamStatus: 200, latencyMs: 12.6, upstreamMs: 10, errorCode: undefined,
    outcome: 'forwarded', refusedSecretIds: [], requestBytes: 0, responseBytes: 0, audited: true, ...overrides,
  };
}

function match(secretId: string): CredentialMatch {
  return { secretId, secretName: `name-${secretId}`, authType: 'bearer', rule: `secret ${secretId} allows api.example.com` };
}

function setup() {
  const batches: EventRow[][] = [];
  const used: string[][] = [];
  const queue = new AuditQueue(
    { insertBatch: (rows) => batches.push([...rows]), touchLastUsed: (ids) => used.push([...ids]) },
    { config: { audit: { queueSize: 100, flushIntervalMs: 1000 } }, logger: memoryLogger().logger },
  );
  const events = new ProxyEvents();
  subscribeAudit(events, queue);
  const rows = () => {
    queue.close();
    return batches.flat();
  };
  return { events, rows, used };
}

test('a request with stand-ins of several secrets yields one row per secret', () => {
  const { events, rows, used } = setup();
  events.emit('request', requestEvent({ matches: [match('s1'), match('s2'), match('s1')], outcome: 'injected' }));
  const written = rows();
  assert.deepEqual(written.map((r) => r.secretId), ['s1', 's2']);
  for (const r of written) {
    assert.equal(r.kind, 'request');
    assert.equal(r.path, '/v1/messages');
    assert.equal(r.latencyMs, 13);
    assert.equal(r.sandboxId, 'sb-1');
  }
  assert.deepEqual(used, [['s1', 's2']]);
});

test('a request without stand-ins yields one row without secret_id; no sandbox is recorded as null', () => {
  const { events, rows, used } = setup();
  events.emit('request', requestEvent());
  events.emit('request', requestEvent({ sandboxId: undefined, sandboxName: undefined, upstreamStatus: undefined, status: 0, outcome: 'client_aborted' }));
  const written = rows();
  assert.equal(written.length, 2);
  assert.equal(written[0]!.secretId, null);
  assert.equal(written[1]!.sandboxId, null);
  assert.equal(written[1]!.sandboxName, null);
  assert.equal(written[1]!.upstreamStatus, null);
  assert.deepEqual(used, []);
});

test('a refused stand-in is audited under its secret with the error code, and does not count as used', () => {
  const { events, rows, used } = setup();
  events.emit('request', requestEvent({
    status: 403, upstreamStatus: undefined, upstreamMs: undefined, errorCode: 'credential_host_mismatch',
    outcome: 'rejected', refusedSecretIds: ['s9'],
  }));
  events.emit('request', requestEvent({ matches: [match('s1')], refusedSecretIds: ['s2'], status: 503, errorCode: 'credential_revoked', outcome: 'rejected' }));
  const written = rows();
  assert.deepEqual(written.map((r) => [r.secretId, r.errorCode]), [
    ['s9', 'credential_host_mismatch'], ['s1', 'credential_revoked'], ['s2', 'credential_revoked'],
  ]);
  assert.deepEqual(used, [['s1']]);
});

test('a connection event yields one connection row', () => {
  const { events, rows } = setup();
  const event: ConnectionEvent = {
    requestId: 'fedcba9876543210fedcba98', ts: TS, sandboxId: 'sb-1', sandboxName: 'one', host: 'api.example.com', dstIp: '127.0.0.1', dstPort: 443,
    verdict: 'allowed', matchRule: 'allow_out api.example.com', bytesSent: 100, bytesRecv: 2000, errorCode: undefined,
  };
  events.emit('connection', event);
  events.emit('connection', { ...event, dstIp: undefined, verdict: 'blocked', errorCode: 'host_denied', bytesSent: 0, bytesRecv: 0 });
  const written = rows();
  assert.deepEqual(written[0], {
    kind: 'connection', ts: TS, sandboxId: 'sb-1', sandboxName: 'one', secretId: null, host: 'api.example.com',
    method: null, path: null, status: null, upstreamStatus: null, latencyMs: null, errorCode: null,
    dstIp: '127.0.0.1', dstPort: 443, verdict: 'allowed', matchRule: 'allow_out api.example.com', bytesSent: 100, bytesRecv: 2000,
    requestId: 'fedcba9876543210fedcba98',
  });
  assert.equal(written[1]!.verdict, 'blocked');
  assert.equal(written[1]!.errorCode, 'host_denied');
  assert.equal(written[1]!.dstIp, null);
});

test('a refused request carrying stand-ins of several secrets is one row per secret', () => {
  const { events, rows, used } = setup();
  events.emit('request', requestEvent({
    status: 403, upstreamStatus: undefined, upstreamMs: undefined, errorCode: 'credential_host_mismatch',
    outcome: 'rejected', refusedSecretIds: ['s3', 's4'],
  }));
  assert.deepEqual(rows().map((r) => [r.secretId, r.errorCode, r.status]), [
    ['s3', 'credential_host_mismatch', 403], ['s4', 'credential_host_mismatch', 403],
  ]);
  assert.deepEqual(used, []);
});
