// Transparent listeners, driven the way a kernel redirect delivers connections: straight to the
// listener, with no Proxy-Authorization, SNI (or Host) naming the real host. The redirect itself
// (iptables in a network namespace) is covered by transparent-netns.test.ts.
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { rawExchange } from '../helpers/clients.js';
import { eventually, startWorld, type World } from '../helpers/harness/index.js';
import { listenerOf, viaTransparentHttp, viaTransparentTls, type Listener } from '../helpers/transparent-client.js';

const REAL = 'sk-real-transparent-0123456789abcdef';
let world: World;
let sandbox: { id: string; access_token: string; env: Record<string, string> };
let other: { env: Record<string, string> };
let https: Listener;
let http: Listener;

before(async () => {
  world = await startWorld({
    flags: { 'transparent.https': '127.0.0.1:0', 'transparent.http': '127.0.0.1:0', 'transparent.sandbox': 'transparent-agent' },
  });
  const api = world.daemon.api;
  assert.equal((await api('POST', '/secrets', { name: 'example', value: REAL, auth: { type: 'bearer' }, hosts: ['api.example.test'] })).status, 201);
  sandbox = (await api('POST', '/sandboxes', { name: 'transparent-agent', secrets: { EXAMPLE_KEY: 'example' } })).json;
  other = (await api('POST', '/sandboxes', { name: 'someone-else', secrets: { EXAMPLE_KEY: 'example' } })).json;
  https = listenerOf(world.daemon.daemon.transparentHttpsAddress);
  http = listenerOf(world.daemon.daemon.transparentHttpAddress);
});

after(() => world.close());

const viaTls = (host: string, path: string, headers: Record<string, string> = {}) => viaTransparentTls(https, world.caPem, host, { path, headers });
const viaHttp = (host: string, path: string, headers: Record<string, string> = {}) => viaTransparentHttp(http, host, { path, headers });

const bearer = (env: Record<string, string>): Record<string, string> => ({ authorization: `Bearer ${env.EXAMPLE_KEY}` });

test('transparent TLS: the host comes from SNI, the leaf is minted for it, and the stand-in is swapped', async () => {
  const res = await viaTls('api.example.test', '/t/swap?q=1', bearer(sandbox.env));
  assert.equal(res.status, 200, res.text);
  const seen = world.upstream.seen.at(-1)!;
  assert.equal(seen.url, '/t/swap?q=1');
  assert.equal(seen.headers.authorization, `Bearer ${REAL}`, 'the upstream got the real value');
  assert.equal(seen.headers.host, 'api.example.test');
  assert.ok(!res.text.includes(REAL), 'the echoed value went back as the stand-in');
  assert.ok(res.text.includes(sandbox.env.EXAMPLE_KEY!));

  const request = await eventually('the request row', async () => {
    const data = (await world.daemon.api('GET', `/sandboxes/${sandbox.id}/network?limit=50`)).json.data as Array<Record<string, unknown>>;
    return data.find((e) => e.kind === 'request' && e.path === '/t/swap');
  });
  assert.equal(request.host, 'api.example.test');
  assert.equal(request.status, 200);
  assert.ok(request.secret_id, 'the row names the secret that was swapped');
});

test('transparent TLS: a stand-in sent to a host its secret does not allow is refused inside TLS', async () => {
  const res = await viaTls('evil.test', '/t/mismatch', bearer(sandbox.env));
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'credential_host_mismatch');
  assert.ok(!world.upstream.seen.some((e) => e.url === '/t/mismatch'), 'nothing was forwarded');
});

test('transparent TLS: a stand-in of any other sandbox is still refused', async () => {
  const res = await viaTls('api.example.test', '/t/foreign', bearer(other.env));
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-credproxy-reason'], 'stand_in_wrong_sandbox');
});

test('transparent TLS: no SNI and no original destination → closed, with a log line and a blocked connection row', async () => {
  const from = world.daemon.logs.lines.length;
  const closed = await new Promise<string>((resolve) => {
    const socket = tlsConnect({ host: https.host, port: https.port, ca: world.caPem, rejectUnauthorized: false });
    socket.once('secureConnect', () => resolve('handshake completed'));
    socket.once('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.once('close', () => resolve('closed'));
  });
  assert.notEqual(closed, 'handshake completed');
  // No response could be written: the connection's access line (a tunnel line) tells it.
  const line = await eventually('the bad_request tunnel line', () =>
    world.daemon.logs.lines
      .slice(from)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.msg === 'tunnel' && e.error_code === 'bad_request'),
  );
  assert.equal(line.level, 'info');
  assert.equal(line.verdict, 'blocked');
  assert.match(String(line.match_rule), /without SNI/);
});

test('transparent TLS: plain http sent to the TLS port gets a readable 400', async () => {
  const { text } = await rawExchange(https.port, 'GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /X-Credproxy-Reason: bad_request/);
});

test('transparent HTTP: the host comes from Host, and a stand-in is never injected into cleartext', async () => {
  const ok = await viaHttp('api.example.test', '/t/plain');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(world.plainUpstream.seen.at(-1)!.url, '/t/plain');
  const refused = await viaHttp('api.example.test', '/t/plain-standin', bearer(sandbox.env));
  assert.equal(refused.status, 403);
  assert.equal(refused.headers['x-credproxy-reason'], 'cleartext_injection_refused');
  assert.ok(!world.plainUpstream.seen.some((e) => e.url === '/t/plain-standin'));
  const { text: noHost } = await rawExchange(http.port, 'GET /x HTTP/1.0\r\n\r\n');
  assert.match(noHost, /^HTTP\/1\.1 400 [^]*X-Credproxy-Reason: bad_request/);
});

test('the transparent listeners are never reachable through the proxy', async () => {
  const auth = Buffer.from(`sb:${sandbox.access_token}`).toString('base64');
  const proxyPort = Number(world.daemon.daemon.proxyAddress.split(':')[1]);
  for (const port of [http.port, https.port]) {
    const { text } = await rawExchange(
      proxyPort,
      `GET http://127.0.0.1:${port}/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`,
    );
    assert.match(text, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: internal_address_denied/, `port ${port}`);
  }
});
