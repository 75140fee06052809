import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { runCli } from '../helpers/cli.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { closedPort } from '../helpers/ports.js';
import { startWorld, type World } from '../helpers/harness/index.js';

// `credproxy doctor` as a subprocess with a real sandbox env, against the real daemon and real
// local HTTPS upstreams (test names reach them through upstream.resolve, never DNS): every check
// passes, then each fails on its own fault with its hint.

let world: World;
let strangerPki: TestPki;
let stranger: Server;
let env: Record<string, string>;

before(async () => {
  // An upstream whose CA the daemon does not trust: the host check must fail on it.
  strangerPki = await createTestPki('doctor-stranger');
  stranger = createServer({ SNICallback: strangerPki.certs.sniCallback }, (_req, res) => res.end('hi'));
  await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
  world = await startWorld({ resolve: [`untrusted.test:443=127.0.0.1:${(stranger.address() as AddressInfo).port}`], flags: { 'log.level': 'warn' } });
  const created = await world.daemon.api('POST', '/sandboxes', { name: 'doctor', secrets: {} });
  assert.equal(created.status, 201);
  env = created.json.env;
});

after(async () => {
  await world.close();
  stranger.close();
  await strangerPki.remove();
});

const lines = (stdout: string) => stdout.trimEnd().split('\n');

test('doctor with the sandbox env: four checks, each ok, exit 0', async () => {
  const { code, stdout, stderr } = await runCli(['doctor', 'api.example.test'], { env });
  assert.equal(code, 0, stderr + stdout);
  const out = lines(stdout);
  assert.deepEqual(
    out.map((l) => l.split(/\s+/).slice(0, 3).join(' ')),
    ['ok proxy reachable', 'ok token authenticates', 'ok CA trusted', 'ok host reachable'],
  );
  assert.match(out[2]!, /SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, NODE_EXTRA_CA_CERTS verify/);
  assert.match(out[3]!, /api\.example\.test:443 resolved and its certificate verified at the proxy \(the upstream answered 200\)/);
  assert.doesNotMatch(stdout, new RegExp(env.HTTPS_PROXY!.split('@')[0]!.split(':').pop()!), 'the access token is never printed');
});

test("doctor: a wrong token fails with the proxy's reason and hint; the rest is skipped; exit 1", async () => {
  const { code, stdout } = await runCli(['doctor', 'api.example.test'], {
    env: { ...env, HTTPS_PROXY: env.HTTPS_PROXY!.replace(/sb:[^@]+@/, 'sb:not-a-token@') },
  });
  assert.equal(code, 1);
  const out = lines(stdout);
  assert.match(out[1]!, /^FAIL\s+token authenticates\s+CONNECT api\.example\.test:443: 407 proxy_auth_required — hint: Send Proxy-Authorization/);
  assert.match(out[2]!, /^skip {2}CA trusted/);
  assert.match(out[3]!, /^skip {2}host reachable/);
});

test('doctor: a CA variable pointing at another CA fails the CA check, naming the variable', async () => {
  const { code, stdout } = await runCli(['doctor', 'api.example.test'], { env: { ...env, REQUESTS_CA_BUNDLE: strangerPki.caPath } });
  assert.equal(code, 1);
  const line = lines(stdout).find((l) => l.includes('CA trusted'))!;
  assert.match(line, /^FAIL/);
  assert.match(line, new RegExp(`REQUESTS_CA_BUNDLE=${strangerPki.caPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*(certificate|SELF_SIGNED|UNABLE)`, 'i'));
  assert.match(line, /hint: Point the variable at the CA bundle/);
});

test('doctor: an upstream whose certificate does not verify at the proxy fails the host check with upstream_tls_error', async () => {
  const { code, stdout } = await runCli(['doctor', 'untrusted.test'], { env });
  assert.equal(code, 1);
  assert.match(
    lines(stdout)[3]!,
    /^FAIL\s+host reachable\s+GET https:\/\/untrusted\.test:443\/: 502 upstream_tls_error — hint: The upstream's TLS certificate did not verify/,
  );
});

test('doctor: nothing listening at HTTPS_PROXY fails the first check; no proxy at all is a usage error (exit 2)', async () => {
  const port = await closedPort();
  const down = await runCli(['doctor', 'api.example.test', '--proxy', `http://sb:x@127.0.0.1:${port}`], { env });
  assert.equal(down.code, 1);
  assert.match(
    lines(down.stdout)[0]!,
    new RegExp(`^FAIL\\s+proxy reachable\\s+127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.* — hint: Is credproxy serve running there\\?`),
  );
  const none = await runCli(['doctor', 'api.example.test'], { env: {} });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No proxy to check: HTTPS_PROXY is not set/);
});
