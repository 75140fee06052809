import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { LeafCertStore } from '../../src/tls/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { standInOf, startWorld, type World } from '../helpers/harness/index.js';
import { collect, openSocket, openTunnel } from './support.js';
import type { NetworkEvent, ProxyAuditEvent, SandboxInfo } from '../../src/sdk/types.js';

const REAL = 'REAL-fault-secret-4411';
const REPEAT = 5;
const DAY_MS = 24 * 3600_000;

let pki: TestPki;
let world: World;
let sandbox: SandboxInfo;
const servers: Server[] = [];
/** What the fault upstreams observed. */
const seen = { uploadBytes: 0, uploadsClosed: 0, sseClosed: 0, resets: 0 };

/** An HTTPS upstream on 127.0.0.1:0; `fixed` pins the certificate for that name instead of following SNI. */
async function upstream(handler: Parameters<typeof createServer>[1], certs = pki.certs, fixed?: string): Promise<number> {
  const options = fixed === undefined ? { SNICallback: certs.sniCallback } : { secureContext: await certs.secureContextFor(fixed) };
  const server = createServer(options, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

before(async () => {
  pki = await createTestPki('fault-upstreams');
  const reset = await upstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
    res.write(Buffer.alloc(1000, 0x61), () => {
      seen.resets++;
      res.socket?.destroy();
    });
  });
  const upload = await upstream((req, res) => {
    req.on('data', (chunk: Buffer) => {
      seen.uploadBytes += chunk.length;
    });
    req.once('close', () => {
      if (!req.complete) seen.uploadsClosed++;
    });
    req.on('end', () => res.end('ok'));
  });
  const sse = await upstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const timer = setInterval(() => res.write('data: tick\n\n'), 30);
    res.once('close', () => {
      clearInterval(timer);
      seen.sseClosed++;
    });
  });
  // Signed by the trusted upstream CA, but expired a year ago.
  const stale = await LeafCertStore.create(pki.ca, { now: () => Date.now() - 400 * DAY_MS });
  const expired = await upstream((_req, res) => res.end('never'), stale);
  const wrongName = await upstream((_req, res) => res.end('never'), pki.certs, 'someone-else.test');

  world = await startWorld({
    upstreamPki: pki,
    resolve: [
      `reset.fault.test:443=127.0.0.1:${reset}`,
      `upload.fault.test:443=127.0.0.1:${upload}`,
      `sse.fault.test:443=127.0.0.1:${sse}`,
      `expired.fault.test:443=127.0.0.1:${expired}`,
      `wrongname.fault.test:443=127.0.0.1:${wrongName}`,
    ],
    flags: { 'log.level': 'warn' },
  });
  const secret = await world.daemon.api('POST', '/secrets', { name: 'fault', value: REAL, auth: { type: 'bearer' }, hosts: ['*.fault.test'] });
  assert.equal(secret.status, 201, secret.text);
  sandbox = (await world.daemon.api('POST', '/sandboxes', { name: 'faults', secrets: { FAULT_TOKEN: 'fault' } })).json;
});

after(async () => {
  await world.close();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await pki.remove();
});

const proxyPort = (): number => Number(world.daemon.daemon.proxyAddress.split(':').at(-1));
const auth = (): string => `sb:${sandbox.access_token}`;
const standIn = (): string => standInOf(sandbox, 'FAULT_TOKEN');

/** Sockets and servers this process holds (client, proxy and upstream sides together). */
function openHandles(): number {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
}

/** Waits for the audit queue (≤ 1 s) and returns the secret's newest rows for `host`. */
async function auditRows(host: string, count: number): Promise<ProxyAuditEvent[]> {
  const deadline = Date.now() + 4000;
  for (;;) {
    const rows = ((await world.daemon.api('GET', '/secrets/fault/audit?limit=100')).json as ProxyAuditEvent[]).filter((r) => r.host === host);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function settledHandles(baseline: number): Promise<number> {
  const deadline = Date.now() + 3000;
  let now = openHandles();
  while (now > baseline && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    now = openHandles();
  }
  return now;
}

/** One request inside a fresh tunnel; returns what the client read before the close. */
async function tunnelGet(host: string, path: string, ms = 4000): Promise<string> {
  const tls = await openTunnel(proxyPort(), host, world.caPem, { auth: auth() });
  tls.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${standIn()}\r\nConnection: close\r\n\r\n`);
  return (await collect(tls, ms)).text;
}

test('upstream resets mid-response: the client connection is cut, the row says upstream_unreachable, no socket leaks', async () => {
  await tunnelGet('reset.fault.test', '/warmup');
  const baseline = openHandles();
  for (let i = 0; i < REPEAT; i++) {
    const text = await tunnelGet('reset.fault.test', `/r${i}`);
    assert.match(text, /^HTTP\/1\.1 200 /, 'the head was relayed before the reset');
    assert.ok(text.length < 100_000, 'the body is cut short, never completed or padded');
  }
  const rows = await auditRows('reset.fault.test', REPEAT + 1);
  assert.ok(rows.length >= REPEAT);
  for (const row of rows) assert.equal(row.error_code, 'upstream_unreachable', JSON.stringify(row));
  assert.ok((await settledHandles(baseline)) <= baseline + 2, `handles ${openHandles()} vs ${baseline}`);
});

test('client aborts mid-upload: the upstream request is aborted too, no socket leaks', async () => {
  const baseline = openHandles();
  for (let i = 0; i < REPEAT; i++) {
    const before = seen.uploadsClosed;
    const tls = await openTunnel(proxyPort(), 'upload.fault.test', world.caPem, { auth: auth() });
    tls.write(`POST /u${i} HTTP/1.1\r\nHost: upload.fault.test\r\nAuthorization: Bearer ${standIn()}\r\nContent-Length: 10000000\r\n\r\n`);
    tls.write(Buffer.alloc(64 * 1024, 0x62));
    const started = seen.uploadBytes;
    const deadline = Date.now() + 3000;
    while (seen.uploadBytes === started && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    tls.destroy();
    const closeDeadline = Date.now() + 3000;
    while (seen.uploadsClosed === before && Date.now() < closeDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(seen.uploadsClosed, before + 1, 'the upstream saw the upload end early');
  }
  const rows = await auditRows('upload.fault.test', REPEAT);
  assert.equal(rows.length, REPEAT);
  assert.ok((await settledHandles(baseline)) <= baseline + 2, `handles ${openHandles()} vs ${baseline}`);
});

test('client aborts mid-SSE: the upstream stream is closed, no socket leaks', async () => {
  const baseline = openHandles();
  for (let i = 0; i < REPEAT; i++) {
    const before = seen.sseClosed;
    const tls = await openTunnel(proxyPort(), 'sse.fault.test', world.caPem, { auth: auth() });
    tls.write(`GET /events HTTP/1.1\r\nHost: sse.fault.test\r\nAuthorization: Bearer ${standIn()}\r\n\r\n`);
    await new Promise<void>((resolve) => {
      let text = '';
      tls.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('data: tick')) resolve();
      });
    });
    tls.destroy();
    const deadline = Date.now() + 3000;
    while (seen.sseClosed === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(seen.sseClosed, before + 1, 'the upstream SSE response was closed');
  }
  assert.ok((await settledHandles(baseline)) <= baseline + 2, `handles ${openHandles()} vs ${baseline}`);
});

test('DNS failure (.invalid): 502 upstream_unreachable at CONNECT, a failed network row, nothing dialled off loopback', async () => {
  const dialled: string[] = [];
  const onSocket = ({ socket }: { socket: Socket }): void => {
    socket.once('lookup', (_err, address, _family, host) => dialled.push(`lookup ${host} ${address}`));
    socket.once('connect', () => dialled.push(socket.remoteAddress ?? '?'));
  };
  subscribe('net.client.socket', onSocket as (message: unknown) => void);
  const baseline = openHandles();
  try {
    for (let i = 0; i < REPEAT; i++) {
      const raw = await openSocket(proxyPort());
      raw.write(
        `CONNECT nowhere-${i}.invalid:443 HTTP/1.1\r\nHost: nowhere-${i}.invalid:443\r\n` +
          `Proxy-Authorization: Basic ${Buffer.from(auth()).toString('base64')}\r\n\r\n`,
      );
      const { text, closed } = await collect(raw, 4000);
      assert.ok(closed);
      assert.match(text, /^HTTP\/1\.1 502 /);
      assert.match(text, /X-Credproxy-Reason: upstream_unreachable\r\n/);
    }
  } finally {
    unsubscribe('net.client.socket', onSocket as (message: unknown) => void);
  }
  for (const entry of dialled) assert.match(entry, /^127\.0\.0\.1$/, `dialled ${entry}`);
  const deadline = Date.now() + 4000;
  let rows: NetworkEvent[] = [];
  while (rows.length < REPEAT && Date.now() < deadline) {
    rows = ((await world.daemon.api('GET', `/sandboxes/${sandbox.id}/network?limit=100`)).json.data as NetworkEvent[]).filter(
      (r) => r.kind === 'connection' && String(r.host).endsWith('.invalid'),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(rows.length, REPEAT);
  for (const row of rows) {
    assert.equal(row.verdict, 'failed');
    assert.equal(row.error_code, 'upstream_unreachable');
  }
  assert.ok((await settledHandles(baseline)) <= baseline + 2, `handles ${openHandles()} vs ${baseline}`);
});

for (const [label, host] of [
  ['expired', 'expired.fault.test'],
  ['issued for another name', 'wrongname.fault.test'],
] as const) {
  test(`upstream certificate ${label} → 502 upstream_tls_error, in the audit row, no socket leaks`, async () => {
    const baseline = openHandles();
    for (let i = 0; i < REPEAT; i++) {
      const text = await tunnelGet(host, `/t${i}`);
      assert.match(text, /^HTTP\/1\.1 502 /);
      assert.match(text, /X-Credproxy-Reason: upstream_tls_error\r\n/);
      assert.ok(!text.includes(REAL));
    }
    const rows = await auditRows(host, REPEAT);
    assert.equal(rows.length, REPEAT);
    for (const row of rows) {
      assert.equal(row.error_code, 'upstream_tls_error');
      assert.equal(row.status, 502);
    }
    assert.ok((await settledHandles(baseline)) <= baseline + 2, `handles ${openHandles()} vs ${baseline}`);
  });
}

test('the egress guard answers .invalid itself (RFC 6761): no resolver query is made', async () => {
  const { EgressGuard } = await import('../../src/proxy/egress.js');
  const asked: string[] = [];
  const guard = new EgressGuard({
    overrides: [],
    allowPrivateNetworks: false,
    protectedAddresses: () => [],
    lookup: async (host) => {
      asked.push(host);
      throw new Error('no resolver in tests');
    },
  });
  for (const host of ['invalid', 'x.invalid', 'a.b.INVALID']) {
    await assert.rejects(guard.check(host, 443), (err: { code?: string }) => err.code === 'upstream_unreachable');
  }
  assert.deepEqual(asked, []);
});
