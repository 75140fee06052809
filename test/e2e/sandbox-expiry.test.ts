import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startWorld, type World } from '../helpers/harness/index.js';
import { tunnelRaw } from '../helpers/tunnel-raw.js';

// A sandbox created with a ttl, through the real daemon and a real HTTPS upstream: its token
// works until the expiry, then every way in answers 407 sandbox_expired, including a request on a
// tunnel opened before; the API no longer shows it and its name is free again.

let world: World;

before(async () => {
  // Only the start-up sweep runs: the expired sandbox stays in the table, so sandbox_expired is what its token gets.
  world = await startWorld({ expirySweepMs: 3_600_000, flags: { 'log.level': 'info' } });
  const created = await world.daemon.api('POST', '/secrets', {
    name: 'brief-secret',
    value: 'real-brief-value',
    auth: { type: 'bearer' },
    hosts: ['api.example.test'],
  });
  assert.equal(created.status, 201);
});

after(() => world.close());

const raw = (accessToken: string, request = 'GET /echo HTTP/1.1\r\nHost: api.example.test\r\n\r\n') =>
  tunnelRaw('api.example.test', request, { proxyAddress: world.daemon.daemon.proxyAddress, caPem: world.caPem, accessToken, ms: 1000 });

test('ttl: tokens work until expires_at, then 407 sandbox_expired (with Proxy-Authenticate) at CONNECT and on an open tunnel', async () => {
  const before = Date.now();
  const res = await world.daemon.api('POST', '/sandboxes', { name: 'brief', secrets: { TOKEN: 'brief-secret' }, ttl: 2 });
  assert.equal(res.status, 201, res.text);
  const sandbox = res.json;
  const expiresAt = Date.parse(sandbox.expires_at);
  assert.ok(expiresAt >= before + 2000 && expiresAt <= Date.now() + 2000, `expires_at ${sandbox.expires_at} is 2 s after the create`);
  assert.equal((await world.daemon.api('GET', `/sandboxes/${sandbox.id}`)).json.expires_at, sandbox.expires_at);

  const ok = await world.fetchAs(sandbox.access_token, 'https://api.example.test/echo', { headers: { authorization: `Bearer ${sandbox.env.TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.equal(world.upstream.seen.at(-1)!.headers.authorization, 'Bearer real-brief-value');
  const seenBefore = world.upstream.seen.length;

  await eventually('the expiry', () => Date.now() > expiresAt, 5000);
  // The agent keeps the tunnel it opened above: the refusal comes per request, inside it.
  const onTunnel = await world.fetchAs(sandbox.access_token, 'https://api.example.test/echo', { headers: { authorization: `Bearer ${sandbox.env.TOKEN}` } });
  assert.equal(onTunnel.status, 407);
  assert.equal(onTunnel.headers['x-credproxy-reason'], 'sandbox_expired');
  assert.equal(onTunnel.headers['proxy-authenticate'], 'Basic realm="credproxy"');
  assert.equal(world.upstream.seen.length, seenBefore, 'nothing reached the upstream');

  const connect = await raw(sandbox.access_token);
  assert.match(connect, /^HTTP\/1\.1 407 /);
  assert.match(connect, /X-Credproxy-Reason: sandbox_expired\r\n/);
  assert.match(connect, /Proxy-Authenticate: Basic realm="credproxy"\r\n/);
  assert.match(connect, /expired at /);

  // Gone from the API as if deleted; the name is free, and taking it deletes the expired row at once.
  assert.equal((await world.daemon.api('GET', `/sandboxes/${sandbox.id}`)).status, 404);
  assert.equal(
    (await world.daemon.api('GET', '/sandboxes')).json.some((s: { id: string }) => s.id === sandbox.id),
    false,
  );
  assert.deepEqual((await world.daemon.api('GET', '/secrets/brief-secret/sandboxes')).json, []);
  const again = await world.daemon.api('POST', '/sandboxes', { name: 'brief', secrets: { TOKEN: 'brief-secret' } });
  assert.equal(again.status, 201);
  assert.equal('expires_at' in again.json, false, 'no expiry asked, none shown');
  assert.match(await raw(sandbox.access_token), /X-Credproxy-Reason: proxy_auth_required\r\n/);
  assert.match(await raw(again.json.access_token), /^HTTP\/1\.1 200 /);
});

test('a second live sandbox of one name is refused: 409 conflict, the first one untouched', async () => {
  const first = await world.daemon.api('POST', '/sandboxes', { name: 'twin', secrets: {} });
  assert.equal(first.status, 201);
  const second = await world.daemon.api('POST', '/sandboxes', { name: 'twin', secrets: {}, ttl: 60 });
  assert.equal(second.status, 409);
  assert.deepEqual(second.json, { error: { code: 'conflict', message: 'a sandbox named "twin" already exists' } });
  assert.equal((await world.daemon.api('GET', '/sandboxes')).json.filter((s: { name: string }) => s.name === 'twin').length, 1);
  assert.match(await raw(first.json.access_token), /^HTTP\/1\.1 200 /);
});
