import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { ProxyAgent, request } from 'undici';
import { rawExchange } from '../helpers/clients.js';
import { eventually, standInOf, startDaemon, type TestDaemon, type UntypedJson } from '../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { closedPort } from '../helpers/ports.js';
import type { SandboxInfo } from '../../src/sdk/types.js';

/**
 * The audit trail and network log through the real daemon: every request below goes through the
 * proxy, and every assertion reads what the admin API (or, for rows no API shows, the database)
 * returns after the ≤ 1 s flush.
 */

const REAL = {
  alpha: 'REAL-alpha-5d1e0c77',
  beta: 'REAL-beta-08ab61f2',
  gamma: 'REAL-gamma-c3c3a9d4',
  doomed: 'REAL-doomed-7f00e1aa',
  detached: 'REAL-detached-4b4b9e12',
  bonly: 'REAL-bonly-e2e2d0d0',
};
const MAX_BODY = 1000;

let trustedPki: TestPki;
let untrustedPki: TestPki;
let upstream: TestUpstream;
let untrusted: TestUpstream;
let plain: TestUpstream;
/** A port this file owns; nothing may ever connect to it through the proxy. */
let owned: Server;
let ownedConnections = 0;
let deadPort: number;
let d: TestDaemon;
let proxyPort: number;
const secrets: Record<string, { id: string }> = {};
let sbA: SandboxInfo;
let sbB: SandboxInfo;
let sbDeny: SandboxInfo;
let sbAllow: SandboxInfo;
let sbPage: SandboxInfo;

before(async () => {
  trustedPki = await createTestPki('audit-upstream');
  untrustedPki = await createTestPki('audit-untrusted');
  upstream = await startUpstream({ pki: trustedPki });
  untrusted = await startUpstream({ pki: untrustedPki });
  plain = await startUpstream();
  owned = createServer((socket) => {
    ownedConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => owned.listen(0, '127.0.0.1', resolve));
  deadPort = await closedPort();

  d = await startDaemon({
    flags: {
      'upstream.resolve': [
        ...['api.example.test', 'a.example.test', 'evil.test'].map((h) => `${h}:443=127.0.0.1:${upstream.port}`),
        `api.example.test:80=127.0.0.1:${plain.port}`,
        `untrusted.test:443=127.0.0.1:${untrusted.port}`,
        `down.test:443=127.0.0.1:${deadPort}`,
      ],
      'upstream.caFile': trustedPki.caPath,
      'upstream.headersTimeoutMs': 300,
      'proxy.maxBodyBytes': MAX_BODY,
    },
  });
  proxyPort = Number(d.daemon.proxyAddress.split(':')[1]);

  const bearerOn = (hosts: string[]) => ({ auth: { type: 'bearer' }, hosts });
  const definitions = [
    { name: 'alpha', value: REAL.alpha, ...bearerOn(['api.example.test', 'untrusted.test', 'down.test']) },
    { name: 'beta', value: REAL.beta, auth: { type: 'api-key', header: 'X-Beta-Key' }, hosts: ['api.example.test'] },
    // Its stand-in arrives as X-Gamma but leaves as Authorization on api.example.test, where alpha also goes.
    {
      name: 'gamma',
      value: REAL.gamma,
      hosts: ['api.example.test', 'a.example.test'],
      auth: {
        per_host: [
          { hosts: ['api.example.test'], type: 'bearer' },
          { hosts: ['a.example.test'], type: 'api-key', header: 'X-Gamma' },
        ],
      },
    },
    { name: 'doomed', value: REAL.doomed, ...bearerOn(['api.example.test']) },
    { name: 'detached', value: REAL.detached, ...bearerOn(['api.example.test']) },
    { name: 'bonly', value: REAL.bonly, ...bearerOn(['api.example.test']) },
  ];
  for (const body of definitions) {
    const res = await d.api('POST', '/secrets', body);
    assert.equal(res.status, 201, res.text);
    secrets[body.name] = res.json;
  }
  const sandbox = async (body: object) => {
    const res = await d.api('POST', '/sandboxes', body);
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  sbA = await sandbox({
    name: 'sandbox-a',
    secrets: { ALPHA: 'alpha', BETA: 'beta', GAMMA: 'gamma', DOOMED: 'doomed', DETACHED: 'detached' },
  });
  sbB = await sandbox({ name: 'sandbox-b', secrets: { BONLY: 'bonly' } });
  sbDeny = await sandbox({ name: 'sandbox-deny', network: { allow_out: [], deny_out: ['0.0.0.0/0'] } });
  sbAllow = await sandbox({ name: 'sandbox-allow', network: { allow_out: ['api.example.test'], deny_out: [] } });
  sbPage = await sandbox({ name: 'sandbox-page', secrets: { ALPHA: 'alpha' } });
});

after(async () => {
  await d.close();
  await upstream.close();
  await untrusted.close();
  await plain.close();
  await new Promise((resolve) => owned.close(resolve));
  await trustedPki.remove();
  await untrustedPki.remove();
});

const proxyAuth = (sandbox: SandboxInfo) => `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}`;
const bearer = (sandbox: SandboxInfo, key: string) => ({ authorization: `Bearer ${sandbox.env[key]}` });

function agentFor(sandbox: SandboxInfo, options: { connections?: number } = {}): ProxyAgent {
  return new ProxyAgent({
    uri: `http://${d.daemon.proxyAddress}`,
    requestTls: { ca: readCa() },
    token: proxyAuth(sandbox),
    ...(options.connections ? { connections: options.connections } : {}),
  });
}

let caPem: string | undefined;
function readCa(): string {
  caPem ??= readFileSync(d.daemon.caPath, 'utf8');
  return caPem;
}

/** One request through `agent`; the proxy's own refusals come back as ordinary responses. */
async function call(agent: ProxyAgent, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(url, { dispatcher: agent, method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** One request on a fresh tunnel that is closed afterwards, so its connection row is written too. */
async function onFreshTunnel(sandbox: SandboxInfo, url: string, init: Parameters<typeof call>[2] = {}) {
  const agent = agentFor(sandbox);
  try {
    return await call(agent, url, init);
  } finally {
    await agent.close();
  }
}

/** `CONNECT host:port` as raw bytes; the refusal closes the socket. */
function rawConnect(authority: string, sandbox?: SandboxInfo) {
  const auth = sandbox ? `Proxy-Authorization: ${proxyAuth(sandbox)}\r\n` : '';
  return rawExchange(proxyPort, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
}

async function audit(secret: string, query = ''): Promise<UntypedJson[]> {
  const res = await d.api('GET', `/secrets/${secret}/audit${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function network(sandbox: SandboxInfo, query = ''): Promise<{ data: UntypedJson[]; next_cursor: string | null; has_more: boolean }> {
  const res = await d.api('GET', `/sandboxes/${sandbox.id}/network${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** Waits for the audit rows of `secret` whose path is `path` (at least `count` of them). */
const auditRowsFor = (secret: string, path: string, count = 1) =>
  eventually(`${count} audit row(s) of ${secret} for ${path}`, async () => {
    const rows = (await audit(secret, '?limit=1000')).filter((r) => r.path === path);
    return rows.length >= count ? rows : undefined;
  });

const networkRowFor = (sandbox: SandboxInfo, match: (row: UntypedJson) => boolean, what: string) =>
  eventually(what, async () => (await network(sandbox, '?limit=1000')).data.find(match));

function assertRejectedRow(row: UntypedJson, status: number, code: string, secretId: string | undefined): void {
  assert.equal(row.status, status, JSON.stringify(row));
  assert.equal(row.error_code, code);
  assert.equal(row.upstream_status, undefined, 'never forwarded: no upstream_status');
  assert.equal(row.secret_id, secretId);
  // Network rows are already the sandbox's own; audit rows name it.
  if (row.kind === undefined) assert.equal(row.sandbox_id, sbA.id);
  assert.ok(typeof row.latency_ms === 'number' && row.latency_ms >= 0);
}

test('an allowed request: one row with status, upstream_status, latency and the path without its query', async () => {
  const res = await onFreshTunnel(sbA, 'https://api.example.test/slow-headers?ms=20&token=query-secret', { headers: bearer(sbA, 'ALPHA') });
  assert.equal(res.status, 200);
  const [row] = await auditRowsFor('alpha', '/slow-headers');
  assert.deepEqual(Object.keys(row).sort(), [
    'host',
    'id',
    'latency_ms',
    'method',
    'path',
    'request_id',
    'sandbox_id',
    'sandbox_name',
    'secret_id',
    'status',
    'ts',
    'upstream_status',
  ]);
  assert.equal(row.request_id, res.headers['x-credproxy-request-id'], 'the row keeps the id the client got');
  assert.equal(row.status, 200);
  assert.equal(row.upstream_status, 200);
  assert.ok(row.latency_ms >= 20, `latency_ms ${row.latency_ms} covers the upstream's 20 ms`);
  assert.equal(row.secret_id, secrets.alpha!.id);
  assert.equal(row.sandbox_id, sbA.id);
  assert.equal(row.sandbox_name, 'sandbox-a');
  assert.equal(row.method, 'GET');
  assert.equal(row.host, 'api.example.test');
  assert.match(row.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

  const tunnel = await networkRowFor(sbA, (r) => r.kind === 'connection' && r.host === 'api.example.test' && r.verdict === 'allowed', 'the tunnel row');
  assert.equal(tunnel.dst_ip, '127.0.0.1');
  assert.equal(tunnel.dst_port, 443);
  assert.match(tunnel.match_rule, /api\.example\.test:443=127\.0\.0\.1/);
  assert.ok(tunnel.bytes_sent > 0 && tunnel.bytes_recv > 0, JSON.stringify(tunnel));
  assert.equal(tunnel.error_code, undefined);
});

test('last_used_at appears on the secret after use', async () => {
  const before = (await d.api('GET', '/secrets/bonly')).json;
  assert.equal(before.last_used_at, undefined, 'never used yet');
  const started = Date.now();
  const res = await onFreshTunnel(sbB, 'https://api.example.test/used', { headers: bearer(sbB, 'BONLY') });
  assert.equal(res.status, 200);
  const used = await eventually('last_used_at', async () => (await d.api('GET', '/secrets/bonly')).json.last_used_at);
  assert.ok(Date.parse(used) >= started - 1000 && Date.parse(used) <= Date.now(), used);
});

test('a request with stand-ins of two secrets yields one row per secret', async () => {
  const res = await onFreshTunnel(sbA, 'https://api.example.test/two-secrets', {
    headers: { ...bearer(sbA, 'ALPHA'), 'x-beta-key': standInOf(sbA, 'BETA') },
  });
  assert.equal(res.status, 200);
  const [a] = await auditRowsFor('alpha', '/two-secrets');
  const [b] = await auditRowsFor('beta', '/two-secrets');
  assert.equal(a.secret_id, secrets.alpha!.id);
  assert.equal(b.secret_id, secrets.beta!.id);
  assert.notEqual(a.id, b.id);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
});

test('a request without stand-ins is in the network log without a secret_id', async () => {
  const res = await onFreshTunnel(sbA, 'https://api.example.test/no-stand-in');
  assert.equal(res.status, 200);
  const row = await networkRowFor(sbA, (r) => r.kind === 'request' && r.path === '/no-stand-in', 'the unattributed-to-a-secret row');
  assert.equal(row.secret_id, undefined);
  assert.equal(row.status, 200);
  assert.equal(row.upstream_status, 200);
});

test('refusals inside a tunnel: status, error_code, no upstream_status, the refused secret', async () => {
  const agent = agentFor(sbA);
  try {
    const cases: Array<{ url: string; init?: Parameters<typeof call>[2]; status: number; code: string; secret: string }> = [
      { url: 'https://evil.test/host-mismatch', init: { headers: bearer(sbA, 'ALPHA') }, status: 403, code: 'credential_host_mismatch', secret: 'alpha' },
      { url: 'https://api.example.test/wrong-sandbox', init: { headers: bearer(sbB, 'BONLY') }, status: 403, code: 'stand_in_wrong_sandbox', secret: 'bonly' },
      {
        url: 'https://api.example.test/too-large',
        init: { method: 'POST', headers: bearer(sbA, 'ALPHA'), body: 'x'.repeat(MAX_BODY + 1) },
        status: 413,
        code: 'body_too_large',
        secret: 'alpha',
      },
    ];
    for (const c of cases) {
      const res = await call(agent, c.url, c.init);
      assert.equal(res.status, c.status, c.url);
      assert.equal(res.headers['x-credproxy-reason'], c.code);
    }
    for (const c of cases) {
      const [row] = await auditRowsFor(c.secret, new URL(c.url).pathname);
      assertRejectedRow(row, c.status, c.code, secrets[c.secret]!.id);
    }
  } finally {
    await agent.close();
  }
});

test('refused requests keep their tunnel: one connection row for many requests on it', async () => {
  const sandbox = (await d.api('POST', '/sandboxes', { name: 'sandbox-keepalive', secrets: { ALPHA: 'alpha' } })).json;
  // A raw client, so the count of tunnels is ours and not a client library's choice.
  const socket = connect(proxyPort, '127.0.0.1');
  socket.write(`CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\nProxy-Authorization: ${proxyAuth(sandbox)}\r\n\r\n`);
  await once(socket, 'data');
  const secure = tlsConnect({ socket, servername: 'evil.test', ca: readCa() });
  await once(secure, 'secureConnect');
  let text = '';
  secure.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  const exchanges = [
    [`/keep-1`, `Authorization: Bearer ${sandbox.env.ALPHA}\r\n`],
    [`/keep-2`, `Authorization: Bearer ${sandbox.env.ALPHA}\r\n`],
    [`/keep-3`, ''],
  ] as const;
  for (const [n, [path, extra]] of exchanges.entries()) {
    secure.write(`GET ${path} HTTP/1.1\r\nHost: evil.test\r\n${extra}\r\n`);
    await eventually(`response ${n + 1}`, () => (text.match(/^HTTP\/1\.1 /gm)?.length ?? 0) > n);
  }
  assert.deepEqual(text.match(/^HTTP\/1\.1 \d{3}/gm), ['HTTP/1.1 403', 'HTTP/1.1 403', 'HTTP/1.1 200']);
  secure.end();
  await once(secure, 'close');

  const rows = await eventually('the keep-alive rows', async () => {
    const page = await network(sandbox, '?limit=1000');
    return page.data.length >= 4 ? page.data : undefined;
  });
  assert.deepEqual(
    rows.map((r) => r.kind),
    ['connection', 'request', 'request', 'request'],
  );
  assert.equal(rows[0].verdict, 'allowed');
  assert.deepEqual(
    rows.slice(1).map((r) => [r.path, r.status]),
    [
      ['/keep-3', 200],
      ['/keep-2', 403],
      ['/keep-1', 403],
    ],
  );
});

/** Sends `headers` to `url` on a fresh tunnel; expects the refusal, then one row for it under each secret. */
async function assertRefusedUnderEach(url: string, headers: Record<string, string>, status: number, code: string, secretNames: string[]) {
  const res = await onFreshTunnel(sbA, url, { headers });
  assert.equal(res.status, status);
  assert.equal(res.headers['x-credproxy-reason'], code);
  for (const secret of secretNames) {
    const [row] = await auditRowsFor(secret, new URL(url).pathname);
    assertRejectedRow(row, status, code, secrets[secret]!.id);
  }
}

test('inject_error: two credentials aimed at one header are refused and audited under both secrets', async () => {
  await assertRefusedUnderEach('https://api.example.test/inject-error', { ...bearer(sbA, 'ALPHA'), 'x-gamma': standInOf(sbA, 'GAMMA') }, 502, 'inject_error', [
    'alpha',
    'gamma',
  ]);
});

test('a refused request with stand-ins of two secrets yields one row per secret', async () => {
  await assertRefusedUnderEach(
    'https://evil.test/two-refused',
    { ...bearer(sbA, 'ALPHA'), 'x-beta-key': standInOf(sbA, 'BETA') },
    403,
    'credential_host_mismatch',
    ['alpha', 'beta'],
  );
});

test('revoked credentials: credential_revoked (deleted secret) and proxy_token_revoked (detached binding)', async () => {
  assert.equal((await d.api('DELETE', '/secrets/doomed')).status, 204);
  assert.equal((await d.api('DELETE', `/sandboxes/${sbA.id}/secrets/DETACHED`)).status, 204);
  const agent = agentFor(sbA);
  try {
    const revoked = await call(agent, 'https://api.example.test/revoked', { headers: bearer(sbA, 'DOOMED') });
    assert.equal(revoked.status, 503);
    assert.equal(revoked.headers['x-credproxy-reason'], 'credential_revoked');
    const detached = await call(agent, 'https://api.example.test/detached', { headers: bearer(sbA, 'DETACHED') });
    assert.equal(detached.status, 503);
    assert.equal(detached.headers['x-credproxy-reason'], 'proxy_token_revoked');
  } finally {
    await agent.close();
  }
  // The deleted secret has no audit route any more (404); its refusals stay in the sandbox's log.
  assert.equal((await d.api('GET', '/secrets/doomed/audit')).status, 404);
  const revokedRow = await networkRowFor(sbA, (r) => r.kind === 'request' && r.path === '/revoked', 'the credential_revoked row');
  assert.equal(revokedRow.status, 503);
  assert.equal(revokedRow.error_code, 'credential_revoked');
  assert.equal(revokedRow.upstream_status, undefined);
  assert.equal(revokedRow.secret_id, secrets.doomed!.id, 'the row still names the deleted secret');
  const [detachedRow] = await auditRowsFor('detached', '/detached');
  assertRejectedRow(detachedRow, 503, 'proxy_token_revoked', secrets.detached!.id);
});

test('upstream failures: unreachable, TLS error and timeout are audited with their codes', async () => {
  const agent = agentFor(sbA);
  const cases = [
    { url: 'https://down.test/unreachable', status: 502, code: 'upstream_unreachable' },
    { url: 'https://untrusted.test/tls-error', status: 502, code: 'upstream_tls_error' },
    { url: 'https://api.example.test/slow-headers?ms=2000', status: 504, code: 'upstream_timeout' },
  ];
  try {
    for (const c of cases) {
      const res = await call(agent, c.url, { headers: bearer(sbA, 'ALPHA') });
      assert.equal(res.status, c.status, c.url);
      assert.equal(res.headers['x-credproxy-reason'], c.code);
    }
  } finally {
    await agent.close();
  }
  for (const c of cases) {
    const path = new URL(c.url).pathname;
    const rows = await eventually(`${c.code} row`, async () => {
      const found = (await audit('alpha', '?limit=1000')).filter((r) => r.path === path && r.error_code === c.code);
      return found.length > 0 ? found : undefined;
    });
    assertRejectedRow(rows[0], c.status, c.code, secrets.alpha!.id);
    assert.ok(rows[0].latency_ms >= (c.code === 'upstream_timeout' ? 300 : 0), JSON.stringify(rows[0]));
  }
  // The tunnel to the closed port was allowed (the name resolved); only its requests failed.
  const down = await networkRowFor(sbA, (r) => r.kind === 'connection' && r.host === 'down.test', 'the down.test tunnel row');
  assert.equal(down.verdict, 'allowed');
  assert.equal(down.dst_port, 443);
});

test('cleartext: an absolute-URI request with a stand-in is refused; a plain one is forwarded and logged', async () => {
  const head = (path: string, extra = '') =>
    `GET http://api.example.test${path}?q=1 HTTP/1.1\r\nHost: api.example.test\r\nProxy-Authorization: ${proxyAuth(sbA)}\r\n${extra}Connection: close\r\n\r\n`;
  const refused = await rawExchange(proxyPort, head('/cleartext', `Authorization: Bearer ${sbA.env.ALPHA}\r\n`));
  assert.match(refused.text, /^HTTP\/1\.1 403 /);
  assert.match(refused.text, /X-Credproxy-Reason: cleartext_injection_refused/i);
  const ok = await rawExchange(proxyPort, head('/plain-ok'));
  assert.match(ok.text, /^HTTP\/1\.1 200 /);

  const [row] = await auditRowsFor('alpha', '/cleartext');
  assertRejectedRow(row, 403, 'cleartext_injection_refused', secrets.alpha!.id);
  const plainRow = await networkRowFor(sbA, (r) => r.kind === 'request' && r.path === '/plain-ok', 'the plain request row');
  assert.equal(plainRow.status, 200);
  assert.equal(plainRow.upstream_status, 200);
  const conn = await networkRowFor(sbA, (r) => r.kind === 'connection' && r.dst_port === 80 && r.bytes_recv > 0, 'the plain connection row');
  assert.equal(conn.verdict, 'allowed');
  assert.equal(conn.host, 'api.example.test');
  assert.ok(conn.bytes_sent > 0);
});

test('CONNECT-stage refusals write a blocked connection row and no request row', async () => {
  const denied = await rawConnect('api.example.test:443', sbDeny);
  assert.match(denied.text, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: host_denied/);
  const deniedId = /\r\nX-Credproxy-Request-Id: ([0-9a-f]{24})\r\n/.exec(denied.text)?.[1];
  assert.ok(await networkRowFor(sbDeny, (r) => r.request_id === deniedId, "the refused CONNECT's row, under the id the client got"));
  const notAllowed = await rawConnect('evil.test:443', sbAllow);
  assert.match(notAllowed.text, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: host_not_allowed/);
  const internal = await rawConnect(`127.0.0.1:${(owned.address() as AddressInfo).port}`, sbB);
  assert.match(internal.text, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: internal_address_denied/);

  const expectations = [
    { sandbox: sbDeny, host: 'api.example.test', port: 443, code: 'host_denied', rule: /deny_out 0\.0\.0\.0\/0/ },
    { sandbox: sbAllow, host: 'evil.test', port: 443, code: 'host_not_allowed', rule: /allow_out/ },
    { sandbox: sbB, host: '127.0.0.1', port: (owned.address() as AddressInfo).port, code: 'internal_address_denied', rule: /loopback/ },
  ];
  for (const e of expectations) {
    const row = await networkRowFor(e.sandbox, (r) => r.kind === 'connection' && r.error_code === e.code, `${e.code} connection row`);
    assert.equal(row.verdict, 'blocked');
    assert.equal(row.host, e.host);
    assert.equal(row.dst_port, e.port);
    assert.equal(row.dst_ip, undefined, 'nothing was dialled');
    assert.match(row.match_rule, e.rule, 'match_rule says which rule refused it');
    assert.match(row.request_id, /^[0-9a-f]{24}$/);
    const requests = (await network(e.sandbox, '?limit=1000')).data.filter((r) => r.kind === 'request' && r.error_code === e.code);
    assert.equal(requests.length, 0, `${e.code}: no request row`);
  }
  assert.equal(ownedConnections, 0, 'the internal port never saw a connection');
  const blocked = await network(sbDeny, '?verdict=blocked');
  assert.ok(blocked.data.length >= 1 && blocked.data.every((r) => r.kind === 'connection' && r.verdict === 'blocked'));
});

test('proxy_auth_required: CONNECT and absolute-URI 407s leave a blocked connection row (no sandbox) and no request row', async () => {
  const connect = await rawConnect('api.example.test:443');
  assert.match(connect.text, /^HTTP\/1\.1 407 [^]*X-Credproxy-Reason: proxy_auth_required/);
  const absolute = await rawExchange(proxyPort, 'GET http://api.example.test/needs-auth HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n');
  assert.match(absolute.text, /^HTTP\/1\.1 407 /);
  // No sandbox identity means no API lists these rows: read the database itself.
  const db = new Database(join(d.config.dataDir, 'credproxy.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = await eventually('two 407 connection rows', () => {
      const found = db.prepare(`SELECT * FROM event_rows WHERE error_code = 'proxy_auth_required'`).all() as Array<Record<string, unknown>>;
      return found.length >= 2 ? found : undefined;
    });
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.kind, 'connection');
      assert.equal(row.verdict, 'blocked');
      assert.equal(row.sandbox_id, null);
      assert.equal(row.host, 'api.example.test');
    }
    assert.deepEqual(rows.map((r) => r.dst_port).sort(), [443, 80]);
    const paths = db.prepare(`SELECT count(*) AS n FROM event_rows WHERE kind = 'request' AND path = '/needs-auth'`).get() as { n: number };
    assert.equal(paths.n, 0);
  } finally {
    db.close();
  }
});

test('filters and cursors on real rows: status classes, verdict, since, and paging exactly once', async () => {
  const total = 240;
  const started = new Date(Date.now() - 1).toISOString();
  const agent = agentFor(sbPage, { connections: 4 });
  try {
    const results = await Promise.all(
      Array.from({ length: total }, (_, i) =>
        call(agent, i % 4 === 3 ? `https://evil.test/page/${i}` : `https://api.example.test/page/${i}`, { headers: bearer(sbPage, 'ALPHA') }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 200).length, (total * 3) / 4);
    assert.equal(results.filter((r) => r.status === 403).length, total / 4);
  } finally {
    await agent.close();
  }

  // Every request row plus the tunnels' connection rows.
  const all = await eventually('all paging rows', async () => {
    const page = await network(sbPage, '?limit=1000');
    const requests = page.data.filter((r) => r.kind === 'request');
    return requests.length === total && page.data.some((r) => r.kind === 'connection') ? page.data : undefined;
  });
  const ids = all.map((r) => r.id);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first',
  );

  const seen: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await network(sbPage, `?limit=7${cursor ? `&before=${cursor}` : ''}`);
    seen.push(...page.data.map((r) => r.id));
    assert.equal(page.has_more, page.next_cursor !== null);
    if (!page.has_more) break;
    cursor = page.next_cursor;
  }
  assert.deepEqual(seen, ids, 'every row exactly once, in order');

  const since = await network(sbPage, `?limit=1000&since=${encodeURIComponent(started)}`);
  assert.equal(since.data.length, all.length);
  const future = await network(sbPage, `?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
  assert.deepEqual(future.data, []);
  const allowed = await network(sbPage, '?verdict=allowed&limit=1000');
  assert.ok(allowed.data.length >= 1 && allowed.data.every((r) => r.kind === 'connection' && r.verdict === 'allowed'));

  // The audit view of alpha, filtered by status class, restricted to this sandbox's rows.
  const mine = (rows: UntypedJson[]) => rows.filter((r) => r.sandbox_id === sbPage.id);
  const errors = mine(await audit('alpha', '?status=errors&limit=1000'));
  const fourxx = mine(await audit('alpha', '?status=4xx&limit=1000'));
  const twoxx = mine(await audit('alpha', '?status=2xx&limit=1000'));
  assert.equal(errors.length, total / 4);
  assert.ok(errors.every((r) => r.status === 403 && r.error_code === 'credential_host_mismatch'));
  assert.deepEqual(
    fourxx.map((r) => r.id),
    errors.map((r) => r.id),
  );
  assert.equal(twoxx.length, (total * 3) / 4);
  assert.ok(twoxx.every((r) => r.status === 200 && r.upstream_status === 200));

  // Audit paging with `before` = the last id seen: every row of alpha exactly once.
  const everything = await audit('alpha', '?limit=1000');
  const paged: number[] = [];
  let before: number | undefined;
  for (let pages = 0; pages < 200; pages++) {
    const page = await audit('alpha', `?limit=13${before ? `&before=${before}` : ''}`);
    paged.push(...page.map((r) => r.id));
    if (page.length < 13) break;
    before = page.at(-1).id;
  }
  assert.deepEqual(
    paged,
    everything.map((r) => r.id),
  );
});

test('access log: one info line per request and per tunnel, under the id the client got', async () => {
  const from = d.logs.lines.length;
  const agent = agentFor(sbA);
  const got: Record<string, Awaited<ReturnType<typeof call>>> = {};
  try {
    got.ok = await call(agent, 'https://api.example.test/log-ok?q=query-secret', { headers: bearer(sbA, 'ALPHA') });
    got.refused = await call(agent, 'https://evil.test/log-refused', { headers: bearer(sbA, 'ALPHA') });
    got.tooLarge = await call(agent, 'https://api.example.test/log-too-large', {
      method: 'POST',
      headers: bearer(sbA, 'ALPHA'),
      body: 'y'.repeat(MAX_BODY + 5),
    });
  } finally {
    await agent.close();
  }
  const denied = await rawConnect('api.example.test:443', sbDeny);
  const deniedId = /\r\nX-Credproxy-Request-Id: ([0-9a-f]{24})\r\n/.exec(denied.text)?.[1];
  const entries = () => d.logs.lines.slice(from).map((line) => JSON.parse(line) as Record<string, UntypedJson>);
  const lines = await eventually("the request lines and both tunnels' lines", () => {
    const found = entries();
    return found.filter((e) => e.msg === 'request').length >= 4 && found.filter((e) => e.msg === 'tunnel').length >= 2 ? found : undefined;
  });
  const requests = lines.filter((e) => e.msg === 'request');
  const tunnels = lines.filter((e) => e.msg === 'tunnel');
  assert.equal(requests.length, 4);
  assert.ok([...requests, ...tunnels].every((e) => e.level === 'info'));
  const byId = (id: unknown) => requests.find((e) => e.request_id === id);
  for (const res of Object.values(got)) assert.match(String(res.headers['x-credproxy-request-id']), /^[0-9a-f]{24}$/);

  const ok = byId(got.ok!.headers['x-credproxy-request-id'])!;
  assert.deepEqual(
    [ok.sandbox_id, ok.sandbox_name, ok.host, ok.secrets, ok.method, ok.path, ok.status, ok.upstream_status, ok.outcome, ok.error_code],
    [sbA.id, sbA.name, 'api.example.test', 'alpha', 'GET', '/log-ok', 200, 200, 'injected', undefined],
  );
  assert.ok(Number.isInteger(ok.latency_ms) && ok.latency_ms >= 0, 'latency in whole milliseconds');
  assert.ok(ok.response_bytes > 0, 'the echoed body was counted');
  const refused = byId(got.refused!.headers['x-credproxy-request-id'])!;
  assert.deepEqual(
    [refused.host, refused.status, refused.error_code, refused.outcome, refused.upstream_status],
    ['evil.test', 403, 'credential_host_mismatch', 'rejected', undefined],
  );
  assert.deepEqual(refused.secret_ids, [secrets.alpha!.id], 'a refused request names the secret by id');
  const tooLarge = byId(got.tooLarge!.headers['x-credproxy-request-id'])!;
  assert.deepEqual([tooLarge.method, tooLarge.status, tooLarge.error_code], ['POST', 413, 'body_too_large']);
  const connect = byId(deniedId)!;
  assert.deepEqual(
    [connect.method, connect.host, connect.sandbox_id, connect.status, connect.error_code, connect.outcome],
    ['CONNECT', 'api.example.test', sbDeny.id, 403, 'host_denied', 'rejected'],
  );
  assert.ok(!tunnels.some((e) => e.request_id === deniedId), 'a CONNECT refused is one request line, not a tunnel line');

  // Each tunnel line is the CONNECT that its requests name as tunnel_id.
  for (const line of [ok, refused, tooLarge]) {
    const tunnel = tunnels.find((e) => e.request_id === line.tunnel_id);
    assert.ok(tunnel, `the tunnel of ${line.path}`);
    assert.equal(tunnel.sandbox_id, sbA.id);
    assert.equal(tunnel.host, line.host);
    assert.equal(tunnel.verdict, 'allowed');
    assert.ok(tunnel.bytes_sent > 0 && tunnel.bytes_recv > 0 && tunnel.requests >= 1 && Number.isInteger(tunnel.duration_ms));
  }
  const row = await networkRowFor(sbA, (r) => r.kind === 'request' && r.request_id === ok.request_id, "the logged request's row");
  assert.equal(row.path, '/log-ok');
  const tunnelRow = await networkRowFor(sbA, (r) => r.kind === 'connection' && r.request_id === ok.tunnel_id, "its tunnel's row");
  assert.equal(tunnelRow.host, 'api.example.test');
  assert.ok(!d.logs.text.includes('query-secret'), 'no query string is logged');

  // Everything logged so far in this file, including every refusal above.
  const text = d.logs.text;
  for (const [name, value] of Object.entries(REAL)) assert.ok(!text.includes(value), `real value of ${name} in the logs`);
  for (const sandbox of [sbA, sbB, sbDeny, sbAllow, sbPage]) {
    assert.ok(!text.includes(sandbox.access_token), 'an access token in the logs');
    for (const { env_key: key } of sandbox.secrets as Array<{ env_key: string }>) {
      assert.ok(!text.includes(standInOf(sandbox, key)), `stand-in ${key} in the logs`);
    }
  }
});
