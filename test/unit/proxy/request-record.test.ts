import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ProxyRejection } from '../../../src/errors.js';
import { tunnelLogger } from '../../../src/proxy/access-log.js';
import { ConnectionRecord } from '../../../src/proxy/admission.js';
import { forwardTarget, type ClientConnection, type DataPlane } from '../../../src/proxy/connection.js';
import { ProxyEvents, type RequestEvent } from '../../../src/proxy/events.js';
import type { CredentialMatch, SandboxIdentity } from '../../../src/proxy/policy.js';
import { answerRefusal, requestOutcome, RequestRecord } from '../../../src/proxy/request-record.js';
import { memoryLogger } from '../../helpers/event-rows.js';

test('requestOutcome: a refusal is rejected or upstream_error, whatever else happened', () => {
  assert.equal(requestOutcome('credential_host_mismatch', false, true, false), 'rejected');
  assert.equal(requestOutcome('upstream_unreachable', true, true, true), 'upstream_error');
  assert.equal(requestOutcome('upstream_timeout', true, false, false), 'upstream_error', 'the client leaving after a failure does not change it');
});

test('requestOutcome: without a refusal, client_aborted beats injected and forwarded', () => {
  assert.equal(requestOutcome(undefined, false, false, true), 'client_aborted');
  assert.equal(requestOutcome(undefined, false, true, true), 'injected');
  assert.equal(requestOutcome(undefined, false, true, false), 'forwarded');
});

// The record stage on its own: a request's row and access log line from plain inputs, the data
// plane reduced to the events, the access log and the drain hook it reads; no socket anywhere.

const TUNNEL_ID: SandboxIdentity = { sandboxId: 'sb-tunnel', sandboxName: 'tunnel' };
const OTHER_ID: SandboxIdentity = { sandboxId: 'sb-other', sandboxName: 'other' };
const MATCH: CredentialMatch = { secretId: 'sec-1', secretName: 'openai', authType: 'bearer', rule: 'secret "openai" allows api.example.test (bearer)' };

function stage() {
  const { logger, lines } = memoryLogger();
  const events = new ProxyEvents();
  const rows: RequestEvent[] = [];
  events.on('request', (row) => rows.push(row));
  const ended: ClientConnection[] = [];
  // The record reads only the events, the access log and the drain hook of the data plane.
  const plane = { events, accessLog: logger, requestEnded: (connection: ClientConnection) => ended.push(connection) } as Partial<DataPlane> as DataPlane;
  const to = forwardTarget(TUNNEL_ID, 'api.example.test', 443, true, '93.184.216.34');
  const connectionRow = new ConnectionRecord(plane, 'api.example.test', 443, true);
  // A tunnel's connection: only its target, row, logger and in-flight count matter here.
  const connection = {
    tunnel: to,
    record: connectionRow,
    log: tunnelLogger(logger, connectionRow.id, TUNNEL_ID, 'api.example.test'),
    active: 0,
  } as Partial<ClientConnection> as ClientConnection;
  const open = (method = 'POST', path = '/v1/chat?key=secret-in-query', id = 'a'.repeat(24)) => new RequestRecord(plane, connection, to, method, path, id);
  return { plane, connection, connectionRow, open, rows, lines, ended };
}

test('RequestRecord: an injected request, forwarded and answered whole, is one row and one tunnel-bound log line', () => {
  const { connection, connectionRow, open, rows, lines, ended } = stage();
  const record = open();
  assert.equal(connection.active, 1, 'in flight while open');
  record.matches = [MATCH];
  record.requestBytes = 12;
  record.upstreamStarted();
  record.upstreamStatus = 201;
  record.responseBytes = 345;
  record.upstreamEnded();
  record.finish(201, true);
  record.finish(500, false);

  assert.equal(rows.length, 1, 'later calls do nothing');
  const row = rows[0]!;
  assert.equal(row.requestId, 'a'.repeat(24));
  assert.equal(row.ts, record.ts);
  assert.deepEqual([row.sandboxId, row.sandboxName], ['sb-tunnel', 'tunnel']);
  assert.deepEqual(row.matches, [MATCH]);
  assert.deepEqual([row.method, row.host, row.path], ['POST', 'api.example.test', '/v1/chat'], 'the query string is never kept');
  assert.deepEqual([row.status, row.upstreamStatus], [201, 201]);
  assert.equal(row.outcome, 'injected');
  assert.equal(row.errorCode, undefined);
  assert.deepEqual(row.refusedSecretIds, []);
  assert.deepEqual([row.requestBytes, row.responseBytes], [12, 345]);
  assert.ok(row.upstreamMs !== undefined && row.upstreamMs >= 0 && row.latencyMs >= row.upstreamMs);
  assert.equal(row.audited, true);

  assert.equal(connection.active, 0);
  assert.equal(connectionRow.requests, 1);
  assert.deepEqual(ended, [connection], 'the drain hears of it');
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  assert.equal(line.msg, 'request');
  assert.equal(line.tunnel_id, connectionRow.id);
  assert.deepEqual([line.request_id, line.secrets, line.status, line.outcome, line.path], ['a'.repeat(24), 'openai', 201, 'injected', '/v1/chat']);
  assert.deepEqual([line.request_bytes, line.response_bytes], [12, 345]);
  assert.equal(JSON.stringify(line).includes('secret-in-query'), false);
});

test('RequestRecord: a refusal, an upstream failure, a refusal at dial time and a client that left each get their outcome', () => {
  const cases: Array<[string, (record: RequestRecord) => void, number, boolean, RequestEvent['outcome'], string | undefined]> = [
    [
      'policy refusal',
      (r) => r.refused(new ProxyRejection('credential_host_mismatch', 'not this host', 'sec-1', ['sec-2'])),
      403,
      true,
      'rejected',
      'credential_host_mismatch',
    ],
    [
      'upstream timeout',
      (r) => {
        r.upstreamStarted();
        r.upstreamFailed(new ProxyRejection('upstream_timeout'));
      },
      504,
      true,
      'upstream_error',
      'upstream_timeout',
    ],
    [
      'body cap',
      (r) => {
        r.upstreamStarted();
        r.upstreamFailed(new ProxyRejection('body_too_large'));
      },
      413,
      true,
      'rejected',
      'body_too_large',
    ],
    [
      'guarded dial',
      (r) => {
        r.upstreamStarted();
        r.upstreamFailed(new ProxyRejection('internal_address_denied'));
      },
      403,
      true,
      'rejected',
      'internal_address_denied',
    ],
    [
      'client left',
      (r) => {
        r.upstreamStatus = 200;
      },
      200,
      false,
      'client_aborted',
      undefined,
    ],
    ['client left before a status', () => {}, 0, false, 'client_aborted', undefined],
  ];
  for (const [name, run, status, finished, outcome, code] of cases) {
    const { open, rows } = stage();
    const record = open('GET', '/');
    run(record);
    record.finish(status, finished);
    const row = rows[0]!;
    assert.equal(row.outcome, outcome, name);
    assert.equal(row.errorCode, code, name);
    assert.equal(row.status, status, name);
    if (name === 'policy refusal') {
      assert.deepEqual(row.refusedSecretIds, ['sec-1', 'sec-2'], 'every secret the request carried');
      assert.equal(row.upstreamMs, undefined, 'never dispatched');
    }
    if (name === 'upstream timeout') assert.ok(row.upstreamMs !== undefined, 'timed up to the failure');
  }
});

test("RequestRecord: a request recorded under another sandbox than its tunnel's gets a line of its own", () => {
  const { open, rows, lines } = stage();
  const record = open('GET', '/x');
  record.identity = OTHER_ID;
  record.finish(200, true);
  assert.deepEqual([rows[0]!.sandboxId, rows[0]!.sandboxName, rows[0]!.outcome], ['sb-other', 'other', 'forwarded']);
  const line = lines[0]!;
  assert.equal(line.tunnel_id, undefined, "not the tunnel's logger");
  assert.deepEqual([line.sandbox_id, line.sandbox_name, line.host], ['sb-other', 'other', 'api.example.test']);
});

test('RequestRecord: a fresh request id when none is given', () => {
  const { plane, connection } = stage();
  const to = forwardTarget(null, 'plain.example.test', 80, false, '93.184.216.34');
  const ids = [new RequestRecord(plane, connection, to, 'GET', '/').id, new RequestRecord(plane, connection, to, 'GET', '/').id];
  for (const id of ids) assert.match(id, /^[0-9a-f]{24}$/);
  assert.notEqual(ids[0], ids[1]);
});

test('answerRefusal: the refusal written with its request id, and one unaudited row for it', async () => {
  const { plane, rows, lines } = stage();
  const cases: Array<[ProxyRejection, number | undefined, RequestEvent['outcome']]> = [
    [new ProxyRejection('proxy_auth_required'), undefined, 'rejected'],
    [new ProxyRejection('upstream_unreachable', 'ENOTFOUND'), undefined, 'upstream_error'],
    [new ProxyRejection('bad_request'), 431, 'rejected'],
  ];
  for (const [rejection, status, outcome] of cases) {
    const socket = new PassThrough();
    const written = text(socket);
    answerRefusal(
      plane,
      { id: 'b'.repeat(24), identity: TUNNEL_ID, method: 'CONNECT', host: 'api.example.test', path: 'api.example.test:443?q=1' },
      rejection,
      { socket },
      status,
    );
    const bytes = await written;
    const sent = status ?? rejection.status;
    assert.ok(bytes.startsWith(`HTTP/1.1 ${sent} `), bytes);
    assert.match(bytes, new RegExp(`\r\nX-Credproxy-Reason: ${rejection.code}\r\n`));
    assert.match(bytes, new RegExp(`\r\nX-Credproxy-Request-Id: ${'b'.repeat(24)}\r\n`));
    assert.equal(bytes.includes('Proxy-Authenticate:'), sent === 407);
    const row = rows.at(-1)!;
    assert.deepEqual([row.requestId, row.status, row.errorCode, row.outcome, row.audited], ['b'.repeat(24), sent, rejection.code, outcome, false]);
    assert.deepEqual([row.sandboxId, row.host, row.path, row.method], ['sb-tunnel', 'api.example.test', 'api.example.test:443', 'CONNECT']);
    assert.deepEqual([row.requestBytes, row.responseBytes, row.upstreamStatus, row.upstreamMs, row.latencyMs], [0, 0, undefined, undefined, 0]);
  }
  assert.equal(lines.length, cases.length, 'one access log line each');
});

test('answerRefusal: a parser refusal with nothing known gets a fresh id and no sandbox', async () => {
  const { plane, rows } = stage();
  const socket = new PassThrough();
  const written = text(socket);
  answerRefusal(plane, { identity: undefined, method: '', host: '', path: '' }, new ProxyRejection('bad_request'), { socket }, 400);
  const row = rows[0]!;
  assert.match(row.requestId, /^[0-9a-f]{24}$/);
  assert.match(await written, new RegExp(`X-Credproxy-Request-Id: ${row.requestId}\r\n`));
  assert.equal(row.sandboxId, undefined);
});

function text(stream: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks).toString())));
}
