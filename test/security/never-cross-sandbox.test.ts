import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CanarySet } from '../helpers/canary.js';
import { rawExchange } from '../helpers/clients.js';
import { tunnelRaw } from '../helpers/tunnel-raw.js';
import { standInOf, startWorld, type World } from '../helpers/harness/index.js';
import type { ProxyAuditEvent, SandboxInfo } from '../../src/sdk/types.js';

/**
 * docs/contract.md#never-cross-sandbox: a stand-in token of sandbox A never works through sandbox B's
 * identity, whatever the transport (tunnel, plain, a second request on the same connection),
 * whatever A's binding state (live, detached, secret deleted, sandbox deleted), and never
 * without an identity. "Works" means the upstream received the real value.
 */
const canaries = new CanarySet();
const REAL = { shared: canaries.add('shared'), onlyA: canaries.add('onlya'), doomed: canaries.add('doomed') };
const HOST = 'api.example.test';

let world: World;
let a: SandboxInfo;
let b: SandboxInfo;

before(async () => {
  world = await startWorld({ flags: { 'proxy.requireAuth': true } });
  for (const [name, value] of Object.entries(REAL)) {
    const res = await world.daemon.api('POST', '/secrets', { name, value, auth: { type: 'bearer' }, hosts: [HOST] });
    assert.equal(res.status, 201, res.text);
  }
  a = (await world.daemon.api('POST', '/sandboxes', { name: 'a', secrets: { SHARED: 'shared', ONLY_A: 'onlyA', DETACH_ME: 'shared', DOOMED: 'doomed' } })).json;
  b = (await world.daemon.api('POST', '/sandboxes', { name: 'b', secrets: { SHARED: 'shared' } })).json;
  assert.ok(a?.access_token && b?.access_token);
});

after(() => world.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** No request the upstreams saw since `mark` carried a real value; returns how many arrived. */
function assertNoRealValueSince(mark: { tls: number; plain: number }): number {
  const fresh = [...world.upstream.seen.slice(mark.tls), ...world.plainUpstream.seen.slice(mark.plain)];
  for (const s of fresh) canaries.assertAbsent(`an upstream request (${s.url})`, s.headers);
  return fresh.length;
}
const mark = () => ({ tls: world.upstream.seen.length, plain: world.plainUpstream.seen.length });

/** A's stand-in for `key`, through B's identity, tunnelled: refused and nothing forwarded. */
async function assertRefusedThroughB(key: string, expectedReasons: string[]): Promise<void> {
  const before = mark();
  const res = await world.fetchAs(b.access_token, `https://${HOST}/via-b/${key}`, { headers: bearer(standInOf(a, key)) });
  assert.ok(res.status >= 400, `${key}: ${res.status}`);
  assert.ok(expectedReasons.includes(String(res.headers['x-credproxy-reason'])), `${key}: ${String(res.headers['x-credproxy-reason'])}`);
  assert.equal(assertNoRealValueSince(before), 0, `${key}: nothing forwarded`);
}

test("A's stand-ins through B's tunnel are refused (403 stand_in_wrong_sandbox) and never forwarded", async () => {
  for (const key of ['SHARED', 'ONLY_A']) await assertRefusedThroughB(key, ['stand_in_wrong_sandbox']);
  // Control: each sandbox's own stand-in for the shared secret works for it.
  for (const sb of [a, b]) {
    const res = await world.fetchAs(sb.access_token, `https://${HOST}/own`, { headers: bearer(standInOf(sb, 'SHARED')) });
    assert.equal(res.status, 200);
    assert.equal(world.upstream.seen.at(-1)!.headers.authorization, `Bearer ${REAL.shared}`);
  }
});

test("A's stand-in without any identity: 407, nothing forwarded", async () => {
  const before = mark();
  for (const url of [`https://${HOST}/anon`, `http://${HOST}/anon`]) {
    const res = await world.fetchAs(undefined, url, { headers: bearer(standInOf(a, 'SHARED')) });
    assert.equal(res.status, 407, url);
  }
  assert.equal(assertNoRealValueSince(before), 0);
});

test("plain HTTP: A's stand-in through B is refused, also as a second request on A's keep-alive connection", async () => {
  const before = mark();
  const proxyPort = Number(world.daemon.daemon.proxyAddress.split(':')[1]);
  const auth = (token: string) => `Proxy-Authorization: Basic ${Buffer.from(`sb:${token}`).toString('base64')}\r\n`;
  const req = (token: string, standIn: string, close = false) =>
    `GET http://${HOST}/plain HTTP/1.1\r\nHost: ${HOST}\r\n${auth(token)}Authorization: Bearer ${standIn}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
  const viaB = await rawExchange(proxyPort, req(b.access_token, standInOf(a, 'SHARED'), true));
  assert.match(viaB.text, /^HTTP\/1\.1 403 /);
  assert.match(viaB.text, /X-Credproxy-Reason: (stand_in_wrong_sandbox|cleartext_injection_refused)/i);
  // First request as A without a stand-in (forwarded), then B's identity with A's stand-in on the same socket.
  const plainA = `GET http://${HOST}/plain-a HTTP/1.1\r\nHost: ${HOST}\r\n${auth(a.access_token)}\r\n`;
  const pair = await rawExchange(proxyPort, plainA + req(b.access_token, standInOf(a, 'SHARED'), true));
  const statuses = [...pair.text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '403'], pair.text);
  canaries.assertAbsent('the plain responses', viaB.text + pair.text);
  assertNoRealValueSince(before);
});

test("inside B's tunnel a Proxy-Authorization of A changes nothing: A's stand-in is still refused", async () => {
  const before = mark();
  const smuggled = `Proxy-Authorization: Basic ${Buffer.from(`sb:${a.access_token}`).toString('base64')}\r\n`;
  const text = await tunnelRaw(
    HOST,
    `GET /own HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${b.env.SHARED}\r\n\r\n` +
      `GET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n${smuggled}Authorization: Bearer ${a.env.SHARED}\r\nConnection: close\r\n\r\n`,
    { proxyAddress: world.daemon.daemon.proxyAddress, caPem: world.caPem, accessToken: b.access_token },
  );
  const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '200', '403'], text);
  assert.match(text, /X-Credproxy-Reason: stand_in_wrong_sandbox/i);
  canaries.assertAbsent('the tunnel bytes', text);
  const forwarded = world.upstream.seen.slice(before.tls).map((s) => s.url);
  assert.deepEqual(forwarded, ['/own'], "only B's own request was forwarded");
});

test("A and B interleaved on many tunnels: each request gets only its own sandbox's injection", async () => {
  const before = mark();
  const calls = Array.from({ length: 12 }, (_, i) => {
    const [owner, other] = i % 2 === 0 ? [a, b] : [b, a];
    return world.fetchAs(owner.access_token, `https://${HOST}/mix/${i}`, { headers: bearer(standInOf(i % 4 < 2 ? owner : other, 'SHARED')) });
  });
  const results = await Promise.all(calls);
  results.forEach((res, i) => assert.equal(res.status, i % 4 < 2 ? 200 : 403, `call ${i}`));
  const fresh = world.upstream.seen.slice(before.tls);
  assert.equal(fresh.length, 6);
  for (const s of fresh) assert.equal(s.headers.authorization, `Bearer ${REAL.shared}`);
});

test("a detached, a revoked or a deleted sandbox's stand-in of A never works through B", async () => {
  const api = world.daemon.api;
  assert.equal((await api('DELETE', `/sandboxes/${a.id}/secrets/DETACH_ME`)).status, 204);
  await assertRefusedThroughB('DETACH_ME', ['stand_in_wrong_sandbox', 'proxy_token_revoked']);
  // And through A itself the detached one is revoked.
  const own = await world.fetchAs(a.access_token, `https://${HOST}/detached`, { headers: bearer(standInOf(a, 'DETACH_ME')) });
  assert.equal(own.status, 503);

  assert.equal((await api('DELETE', '/secrets/doomed')).status, 204);
  await assertRefusedThroughB('DOOMED', ['stand_in_wrong_sandbox', 'credential_revoked']);

  assert.equal((await api('DELETE', `/sandboxes/${a.id}`)).status, 204);
  const before = mark();
  for (const key of ['SHARED', 'ONLY_A']) {
    const res = await world.fetchAs(b.access_token, `https://${HOST}/deleted/${key}`, { headers: bearer(standInOf(a, key)) });
    // A deleted sandbox's stand-ins are unknown strings now: refused, or forwarded untouched.
    if (res.status === 200) assert.equal(world.upstream.seen.at(-1)!.headers.authorization, `Bearer ${a.env[key]}`);
    else assert.equal(res.status, 403, key);
  }
  assertNoRealValueSince(before);
  assert.equal((await world.fetchAs(a.access_token, `https://${HOST}/`, { headers: bearer(standInOf(a, 'SHARED')) })).status, 407);
});

test("with requireAuth false B's identity still cannot use A's stand-in", async () => {
  const open = await startWorld({ flags: { 'proxy.requireAuth': false } });
  try {
    await open.daemon.api('POST', '/secrets', { name: 's', value: REAL.shared, auth: { type: 'bearer' }, hosts: [HOST] });
    const sbA = (await open.daemon.api('POST', '/sandboxes', { name: 'a', secrets: { S: 's' } })).json;
    const sbB = (await open.daemon.api('POST', '/sandboxes', { name: 'b', secrets: { S: 's' } })).json;
    const res = await open.fetchAs(sbB.access_token, `https://${HOST}/b-with-a`, { headers: bearer(sbA.env.S) });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-credproxy-reason'], 'stand_in_wrong_sandbox');
    assert.equal(open.upstream.seen.length, 0);
    // Unattributed requests (no Proxy-Authorization) are a documented mode of their own: the
    // stand-in then acts for its own sandbox, which is not B's identity.
    assert.equal((await open.fetchAs(sbB.access_token, `https://${HOST}/b-own`, { headers: bearer(sbB.env.S) })).status, 200);
  } finally {
    await open.close();
  }
});

test('the refusals were logged and audited without a real value', async () => {
  canaries.assertAbsent('the daemon log', world.daemon.logs.text);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const audit = await world.daemon.api('GET', '/secrets/shared/audit?status=4xx');
  assert.ok(
    audit.json.some((row: ProxyAuditEvent) => row.error_code === 'stand_in_wrong_sandbox' && row.sandbox_id === b.id),
    audit.text,
  );
  canaries.assertAbsent('the audit', audit.text);
});
