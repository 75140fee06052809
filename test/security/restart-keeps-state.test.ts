import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ProxyAgent, request } from 'undici';
import { CanarySet } from '../helpers/canary.js';
import { startDaemon, type TestDaemon, type UntypedJson } from '../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import type { ProxyAuditEvent, SandboxInfo, SandboxSecretBinding, SecretInfo } from '../../src/sdk/types.js';

/**
 * docs/contract.md#never-lose-state: a process restart loses no secret, no binding and not the CA. The
 * daemon is started, given state, closed, and started again on the same directory; everything
 * listed must come back identical, the stand-ins must still inject, the access tokens still
 * authenticate, and a client that trusted the first CA PEM must keep working.
 */
const canaries = new CanarySet();
const REAL = { bearer: canaries.add('bearer'), github: canaries.add('github', 'ghp_'), basic: canaries.add('basic'), gone: canaries.add('gone') };
const HOST = 'api.example.test';

let pki: TestPki;
let upstream: TestUpstream;
let flags: Record<string, unknown>;
let first: TestDaemon;
let second: TestDaemon | undefined;
const before1: Record<string, UntypedJson> = {};

before(async () => {
  pki = await createTestPki('restart-upstream');
  upstream = await startUpstream({ pki });
  flags = {
    'upstream.resolve': [HOST, 'github.com', 'api.github.com', 'evil.test'].map((h) => `${h}:443=127.0.0.1:${upstream.port}`),
    'upstream.caFile': pki.caPath,
    'audit.flushIntervalMs': 50,
  };
  first = await startDaemon({ flags });
});

after(async () => {
  await first?.close();
  await second?.close();
  await upstream.close();
  await pki.remove();
});

/** GET through the proxy as a sandbox, trusting `caPem` (the CA a client was given earlier). */
async function viaProxy(daemon: TestDaemon, caPem: string, token: string, url: string, headers: Record<string, string>) {
  const agent = new ProxyAgent({
    uri: `http://${daemon.daemon.proxyAddress}`,
    requestTls: { ca: caPem },
    token: `Basic ${Buffer.from(`sb:${token}`).toString('base64')}`,
  });
  try {
    const res = await request(url, { dispatcher: agent, headers });
    return { status: res.statusCode, reason: res.headers['x-credproxy-reason'], text: await res.body.text() };
  } catch (err) {
    const refused = /Proxy response \((\d{3})\)/.exec((err as Error).message);
    if (!refused) throw err;
    return { status: Number(refused[1]), reason: undefined, text: '' };
  } finally {
    await agent.close();
  }
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const lastAuth = () => upstream.seen.at(-1)!.headers.authorization;

/** Everything the operator can list, with last_used_at left out (a request may set it). */
async function snapshot(daemon: TestDaemon, sandboxIds: string[]) {
  const get = async (path: string) => (await daemon.api('GET', path)).json;
  const secrets = (await get('/secrets')).map(({ last_used_at: _, ...rest }: SecretInfo) => rest);
  const sandboxes = await Promise.all(sandboxIds.map((id) => get(`/sandboxes/${id}`)));
  const bindings = await Promise.all(['bearer', 'github', 'basic'].map((name) => get(`/secrets/${name}/sandboxes`)));
  const caPem = await request(`http://${daemon.daemon.adminAddress}/ca.pem`).then((r) => r.body.text());
  return { secrets, sandboxes, bindings, caPem, caFile: readFileSync(daemon.daemon.caPath, 'utf8'), apiKey: daemon.daemon.apiKey };
}

test('first run: secrets, bindings (live, detached, revoked), network policy, agent secrets', async () => {
  const api = first.api;
  const create = async (path: string, body: unknown) => {
    const res = await api('POST', path, body);
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  await create('/secrets', { name: 'bearer', value: REAL.bearer, auth: { type: 'bearer' }, hosts: [HOST] });
  await create('/secrets', { name: 'github', value: REAL.github, provider: 'github' });
  await create('/secrets', { name: 'basic', value: REAL.basic, auth: { type: 'basic', username: 'svc' }, hosts: [HOST] });
  await create('/secrets', { name: 'gone', value: REAL.gone, auth: { type: 'bearer' }, hosts: [HOST] });
  before1.a = await create('/sandboxes', {
    name: 'a',
    secrets: { T: 'bearer', GH: 'github', B: 'basic', DETACHED: 'bearer', REVOKED: 'gone' },
    env_vars: { PLAIN: 'visible' },
    network: { deny_out: ['evil.test'] },
    metadata: { team: 'x' },
  });
  before1.b = await create('/sandboxes', { name: 'b', secrets: { T: 'bearer' } });
  assert.equal((await api('DELETE', `/sandboxes/${before1.a.id}/secrets/DETACHED`)).status, 204);
  assert.equal((await api('DELETE', '/secrets/gone')).status, 204);
  assert.equal((await api('PATCH', '/v1/agents/bot/secrets', { secrets: { OPENAI_API_KEY: canaries.add('agent', 'sk-proj-'), PLAIN_KEY: 'p' } })).status, 200);

  before1.caPem = readFileSync(first.daemon.caPath, 'utf8');
  const res = await viaProxy(first, before1.caPem, before1.a.access_token, `https://${HOST}/before`, bearer(before1.a.env.T));
  assert.equal(res.status, 200);
  assert.equal(lastAuth(), `Bearer ${REAL.bearer}`);
  before1.snapshot = await snapshot(first, [before1.a.id, before1.b.id]);
  before1.agentKeys = (await api('GET', '/v1/agents/bot/secrets')).json;
  before1.proxyAddress = first.daemon.proxyAddress;
  await first.close();
});

test('second run on the same directory: identical state, same CA, same key', async () => {
  second = await startDaemon({ dir: first.dir, flags });
  const now = await snapshot(second, [before1.a.id, before1.b.id]);
  assert.equal(now.caPem, before1.snapshot.caPem, 'the CA served at /ca.pem is the same');
  assert.equal(now.caFile, before1.caPem, 'the CA file is the same');
  assert.equal(now.apiKey, before1.snapshot.apiKey, 'the generated admin API key survives');
  assert.deepEqual(now.secrets, before1.snapshot.secrets);
  assert.deepEqual(now.bindings, before1.snapshot.bindings);
  // The env's proxy address (also in the JVM's options) follows the new port; everything else is what it was.
  const withoutProxy = (sb: SandboxInfo) => ({
    ...sb,
    env: Object.fromEntries(Object.entries(sb.env).filter(([k]) => !/^(https?_proxy|JAVA_TOOL_OPTIONS)$/i.test(k))),
  });
  assert.deepEqual(now.sandboxes.map(withoutProxy), before1.snapshot.sandboxes.map(withoutProxy));
  assert.deepEqual(
    now.sandboxes[0].secrets.map((s: SandboxSecretBinding) => [s.env_key, s.revoked]).sort(),
    [
      ['B', false],
      ['GH', false],
      ['REVOKED', true],
      ['T', false],
    ],
    'a detached binding is no longer listed; a revoked one is',
  );
  assert.deepEqual((await second.api('GET', '/v1/agents/bot/secrets')).json, before1.agentKeys);
});

test('second run: stand-ins still inject, access tokens still authenticate, refusals still hold', async () => {
  const daemon = second!;
  const { a, b, caPem } = before1;
  const ok = async (sb: SandboxInfo, url: string, headers: Record<string, string>, expected: string) => {
    const res = await viaProxy(daemon, caPem, sb.access_token, url, headers);
    assert.equal(res.status, 200, `${url}: ${res.text}`);
    assert.equal(lastAuth(), expected);
    canaries.assertAbsent('the response', res.text);
  };
  await ok(a, `https://${HOST}/after`, bearer(a.env.T), `Bearer ${REAL.bearer}`);
  await ok(b, `https://${HOST}/after-b`, bearer(b.env.T), `Bearer ${REAL.bearer}`);
  await ok(a, 'https://api.github.com/user', bearer(a.env.GH), `Bearer ${REAL.github}`);
  await ok(a, 'https://github.com/acme/repo.git/info/refs', bearer(a.env.GH), `Basic ${Buffer.from(`x-access-token:${REAL.github}`).toString('base64')}`);
  await ok(
    a,
    `https://${HOST}/basic`,
    { authorization: `Basic ${Buffer.from(`me:${a.env.B}`).toString('base64')}` },
    `Basic ${Buffer.from(`svc:${REAL.basic}`).toString('base64')}`,
  );

  const refused = async (sb: Pick<SandboxInfo, 'access_token'>, url: string, headers: Record<string, string>, status: number, reason?: string) => {
    const res = await viaProxy(daemon, caPem, sb.access_token, url, headers);
    assert.equal(res.status, status, url);
    if (reason) assert.equal(res.reason, reason, url);
  };
  await refused(b, `https://${HOST}/cross`, bearer(a.env.T), 403, 'stand_in_wrong_sandbox');
  await refused(a, `https://${HOST}/revoked`, bearer(a.env.REVOKED), 503, 'credential_revoked');
  await refused(a, `https://${HOST}/detached`, bearer(a.env.DETACHED), 503, 'proxy_token_revoked');
  await refused(a, 'https://evil.test/denied', {}, 403);
  await refused({ access_token: 'not-a-token' }, `https://${HOST}/`, {}, 407);
});

test('second run: the audit rows written before the restart are there, and no file holds a value', async () => {
  const daemon = second!;
  const rows = (await daemon.api('GET', '/secrets/bearer/audit')).json;
  assert.ok(
    rows.some((row: ProxyAuditEvent) => row.path === '/before' && row.status === 200),
    'the first run flushed its audit on close',
  );
  await daemon.close();
  canaries.assertAbsentInDir(daemon.dir);
  canaries.assertAbsent('the logs', first.logs.text + daemon.logs.text);
});
