// Several sandboxes behind one pair of transparent listeners, told apart by the address their
// connections come from (`source_addresses`; transparent.sandbox unset). Clients pick their
// source by binding to different 127.x addresses, as sandboxes with their own addresses would
// arrive after a kernel redirect. The redirect itself: transparent-netns.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { DATABASE_FILE } from '../../src/store/index.js';
import { rawExchange } from '../helpers/clients.js';
import { eventually, startWorld, type World } from '../helpers/harness/index.js';
import { listenerOf, viaTransparentHttp, viaTransparentTls, type Listener } from '../helpers/transparent-client.js';

const REAL_A = 'sk-real-source-a-0123456789abcdef';
const REAL_B = 'sk-real-source-b-0123456789abcdef';
const HOST = 'api.example.test';

interface Sandbox {
  id: string;
  access_token: string;
  env: Record<string, string>;
  source_addresses?: string[];
}
let world: World;
let a: Sandbox;
let b: Sandbox;
let https: Listener;
let http: Listener;

before(async () => {
  // An IPv6 socket bound to an IPv4-mapped address: every source arrives as ::ffff:127.x, the
  // spelling a dual-stack listener reports, and must still match the declared IPv4 address.
  world = await startWorld({ flags: { 'transparent.https': '[::ffff:127.0.0.1]:0', 'transparent.http': '127.0.0.1:0' } });
  const api = world.daemon.api;
  for (const [name, value] of [
    ['alpha', REAL_A],
    ['beta', REAL_B],
  ]) {
    assert.equal((await api('POST', '/secrets', { name, value, auth: { type: 'bearer' }, hosts: [HOST] })).status, 201);
  }
  a = (await api('POST', '/sandboxes', { name: 'sandbox-a', secrets: { KEY: 'alpha' }, source_addresses: ['127.0.0.2'] })).json;
  b = (await api('POST', '/sandboxes', { name: 'sandbox-b', secrets: { KEY: 'beta' }, source_addresses: ['::ffff:127.0.0.3'] })).json;
  // Dialled as IPv4: the mapped listener takes it, and the client can bind an IPv4 source.
  https = { host: '127.0.0.1', port: listenerOf(world.daemon.daemon.transparentHttpsAddress).port };
  http = listenerOf(world.daemon.daemon.transparentHttpAddress);
});

after(() => world.close());

const bearer = (sandbox: Sandbox): Record<string, string> => ({ authorization: `Bearer ${sandbox.env.KEY}` });
const fromTls = (localAddress: string, path: string, headers: Record<string, string> = {}) =>
  viaTransparentTls(https, world.caPem, HOST, { path, headers, localAddress });

async function networkRows(sandbox: Sandbox): Promise<Array<Record<string, unknown>>> {
  return (await world.daemon.api('GET', `/sandboxes/${sandbox.id}/network?limit=100`)).json.data;
}

test('POST /sandboxes returns the source addresses as stored; a second claim of one is 409', async () => {
  assert.deepEqual(a.source_addresses, ['127.0.0.2']);
  assert.deepEqual(b.source_addresses, ['127.0.0.3'], 'IPv4-mapped is stored as its IPv4 address');
  assert.deepEqual((await world.daemon.api('GET', `/sandboxes/${b.id}`)).json.source_addresses, ['127.0.0.3']);
  const claimed = await world.daemon.api('POST', '/sandboxes', { name: 'late', source_addresses: ['127.0.0.9', '127.0.0.2'] });
  assert.equal(claimed.status, 409);
  assert.deepEqual(claimed.json, {
    error: {
      code: 'conflict',
      message: `source_addresses[1]: 127.0.0.2 is already declared by sandbox "sandbox-a" (${a.id}); an address identifies one sandbox`,
    },
  });
  const range = await world.daemon.api('POST', '/sandboxes', { name: 'late', source_addresses: ['127.0.0.0/24'] });
  assert.equal(range.status, 400);
  assert.equal(range.json.error.code, 'bad_request');
  const plain = (await world.daemon.api('POST', '/sandboxes', { name: 'none' })).json;
  assert.equal('source_addresses' in plain, false, "a sandbox that declares none keeps the contract's shape");
});

test('each sandbox is identified by its source address and gets its own swap', async () => {
  const resA = await fromTls('127.0.0.2', '/src/a', bearer(a));
  assert.equal(resA.status, 200, resA.text);
  const resB = await fromTls('127.0.0.3', '/src/b', bearer(b));
  assert.equal(resB.status, 200, resB.text);
  const saw = (path: string) => world.upstream.seen.find((e) => e.url === path)?.headers.authorization;
  assert.equal(saw('/src/a'), `Bearer ${REAL_A}`);
  assert.equal(saw('/src/b'), `Bearer ${REAL_B}`);
  assert.ok(!resA.text.includes(REAL_A) && !resB.text.includes(REAL_B), 'echoes went back as stand-ins');

  const rowA = await eventually("sandbox a's request row", async () => (await networkRows(a)).find((e) => e.kind === 'request' && e.path === '/src/a'));
  assert.equal(rowA.status, 200);
  assert.ok(!(await networkRows(a)).some((e) => e.path === '/src/b'), "b's request is not in a's log");
  await eventually("sandbox b's request row", async () => (await networkRows(b)).find((e) => e.kind === 'request' && e.path === '/src/b'));
});

test('a stand-in of the other sandbox is refused from each source', async () => {
  for (const [from, foreign] of [
    ['127.0.0.2', b],
    ['127.0.0.3', a],
  ] as const) {
    const res = await fromTls(from, `/src/foreign-${from}`, bearer(foreign));
    assert.equal(res.status, 403, from);
    assert.equal(res.headers['x-credproxy-reason'], 'stand_in_wrong_sandbox');
  }
  assert.ok(!world.upstream.seen.some((e) => e.url.startsWith('/src/foreign')), 'nothing was forwarded');
});

test('plain http is attributed by source address too (and never injected)', async () => {
  const ok = await viaTransparentHttp(http, HOST, { path: '/src/plain-b', localAddress: '127.0.0.3' });
  assert.equal(ok.status, 200, ok.text);
  await eventually("b's plain request row", async () => (await networkRows(b)).find((e) => e.kind === 'request' && e.path === '/src/plain-b'));
  const refused = await viaTransparentHttp(http, HOST, { path: '/src/plain-a', headers: bearer(a), localAddress: '127.0.0.2' });
  assert.equal(refused.headers['x-credproxy-reason'], 'cleartext_injection_refused');
});

test('an unknown source is refused with 407 naming the address, a log line and a blocked connection row', async () => {
  const from = world.daemon.logs.lines.length;
  const res = await fromTls('127.0.0.4', '/src/unknown', bearer(a));
  assert.equal(res.status, 407);
  assert.equal(res.headers['x-credproxy-reason'], 'proxy_auth_required');
  assert.match(res.text, /no sandbox declares the source address 127\.0\.0\.4 in source_addresses/);
  assert.ok(!world.upstream.seen.some((e) => e.url === '/src/unknown'));
  await eventually('the admission refused line', () =>
    world.daemon.logs.lines.slice(from).some((l) => l.includes('admission refused') && l.includes('127.0.0.4')),
  );

  const db = new BetterSqlite3(join(world.daemon.config.dataDir, DATABASE_FILE), { readonly: true });
  try {
    const row = await eventually(
      'the blocked connection row',
      () =>
        db
          .prepare("SELECT sandbox_id, host, verdict, error_code, match_rule FROM event_rows WHERE kind = 'connection' AND match_rule LIKE '%127.0.0.4%'")
          .get() as Record<string, unknown> | undefined,
    );
    assert.deepEqual(row, {
      sandbox_id: null,
      host: HOST,
      verdict: 'blocked',
      error_code: 'proxy_auth_required',
      match_rule: 'no sandbox declares the source address 127.0.0.4 in source_addresses, and transparent.sandbox is not set',
    });
  } finally {
    db.close();
  }
});

test('a sandbox created or deleted later is identified, or refused, on the next connection', async () => {
  const api = world.daemon.api;
  const late: Sandbox = (await api('POST', '/sandboxes', { name: 'late', secrets: { KEY: 'alpha' }, source_addresses: ['127.0.0.5'] })).json;
  assert.equal((await fromTls('127.0.0.5', '/src/late', bearer(late))).status, 200);
  assert.equal((await api('DELETE', `/sandboxes/${late.id}`)).status, 204);
  assert.equal((await fromTls('127.0.0.5', '/src/late-gone', bearer(late))).status, 407);
  const again = await api('POST', '/sandboxes', { name: 'reuse', source_addresses: ['127.0.0.5'] });
  assert.equal(again.status, 201, 'a deleted sandbox frees its addresses');
});

test('the explicit proxy never trusts a source address: without Proxy-Authorization it is 407', async () => {
  const proxyPort = Number(world.daemon.daemon.proxyAddress.split(':')[1]);
  const { text } = await rawExchange(proxyPort, `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`, 3000, '127.0.0.2');
  assert.match(text, /^HTTP\/1\.1 407 [^]*X-Credproxy-Reason: proxy_auth_required/);
});
