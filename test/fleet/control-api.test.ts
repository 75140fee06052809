import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { createControlPlane, type ControlPlane } from '../../src/control/index.js';
import { createLogger } from '../../src/log/logger.js';
import { CredproxyClient } from '../../src/sdk/index.js';
import { LogSink, type UntypedJson } from '../helpers/harness/index.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';
import { secretsAndSandboxesRoundTrip } from '../helpers/sdk-round-trip.js';

// Two control-plane replicas (in-process) on one throwaway PostgreSQL: the SDK's round trip works
// against either, and a change made through one reaches a change stream held open on the other.

const skip = postgresSkipReason();
const run = promisify(execFile);
const API_KEY = `control-key-${randomBytes(8).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'credproxy-control-'));
let replicas: ControlPlane[] = [];
const logs = new LogSink();

before(async () => {
  if (skip) return;
  const databaseUrl = await (await testPostgres()).createDatabase();
  const config = loadConfig({
    cwd: dir,
    env: {},
    flags: {
      'fleet.role': 'control',
      'fleet.databaseUrl': databaseUrl,
      'fleet.heartbeatMs': 100,
      masterKey: randomBytes(32).toString('base64'),
      'admin.apiKey': API_KEY,
      'admin.listen': '127.0.0.1:0',
      'log.level': 'debug',
    },
  });
  // Both start at once: migrations are serialised by an advisory lock.
  replicas = await Promise.all([0, 1].map(() => createControlPlane(config, { logger: createLogger({ level: 'debug', destination: logs }) })));
});

after(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

const client = (i: number) => new CredproxyClient({ url: `http://${replicas[i]!.adminAddress}`, apiKey: API_KEY });

test('the SDK round trip works against a control plane on PostgreSQL', { skip }, async () => {
  assert.deepEqual(await client(0).health(), { status: 'ok' });
  await secretsAndSandboxesRoundTrip(client(0));
});

test('an agent set through one replica is read and run through the other', { skip }, async () => {
  assert.deepEqual(await client(0).setAgentSecrets('replicated', { OPENAI_API_KEY: 'sk-REAL-replicated', PLAIN: 'p' }), { keys: ['OPENAI_API_KEY', 'PLAIN'] });
  assert.deepEqual((await client(1).getAgent('replicated')).secrets, [
    { key: 'OPENAI_API_KEY', kind: 'provider' },
    { key: 'PLAIN', kind: 'plain' },
  ]);
  const { env } = await client(1).runAgent('replicated');
  assert.equal(env.PLAIN, 'p');
  assert.match(env.OPENAI_API_KEY!, /^sk-/);
  assert.notEqual(env.OPENAI_API_KEY, 'sk-REAL-replicated');
  const res = await request(`http://${replicas[0]!.adminAddress}/v1/agents/nobody/secrets`, { headers: { 'x-api-key': API_KEY } });
  assert.equal(res.statusCode, 404);
  assert.deepEqual(await res.body.json(), { status: 404, detail: 'Agent not found', details: { code: 'agent_not_found', agent: 'nobody' } });
});

test('the same errors and shapes as the single daemon for bindings', { skip }, async () => {
  const c = client(1);
  await c.createSecret({ name: 'shape', value: 'v', auth: { type: 'bearer' }, hosts: ['api.example.com'] });
  await assert.rejects(c.createSandbox({ name: 'x', secrets: { A: 'missing' } }), { status: 400, code: 'secret_not_found' });
  const sandbox = await c.createSandbox({ name: 'shape', secrets: { A: 'shape' }, env_vars: { PLAIN: '1' } });
  await assert.rejects(c.attachSecret(sandbox.id, { env_key: 'A', secret_name: 'shape' }), { status: 409, code: 'conflict' });
  await assert.rejects(c.attachSecret(sandbox.id, { env_key: 'PLAIN', secret_name: 'shape' }), { status: 409, code: 'conflict' });
  await assert.rejects(c.detachSecret(sandbox.id, 'NONE'), { status: 404, code: 'not_found' });
  await assert.rejects(c.getSandbox('no-such-id'), { status: 404, code: 'not_found' });
  await c.deleteSecret('shape');
  // As on SQLite: a deleted secret's binding shows revoked and its key can be taken over.
  assert.deepEqual((await c.getSandbox(sandbox.id)).secrets, [{ env_key: 'A', secret_name: 'shape', revoked: true }]);
  assert.deepEqual(await c.secretAudit('shape', {}).catch((e: { code: string }) => e.code), 'not_found');
});

test('a change through one replica reaches a change stream on the other (LISTEN/NOTIFY)', { skip }, async () => {
  const api = (i: number, method: string, path: string, body?: unknown) =>
    request(`http://${replicas[i]!.adminAddress}${path}`, {
      method: method as 'GET',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => {
      const text = await r.body.text();
      return { status: r.statusCode, json: (text ? JSON.parse(text) : undefined) as UntypedJson };
    });
  const {
    json: { token },
  } = await api(0, 'POST', '/fleet/sidecars', { name: 'listener' });
  assert.equal((await api(0, 'POST', '/fleet/sidecars', { name: 'listener' })).status, 409);
  assert.equal((await api(0, 'POST', '/fleet/sidecars', { name: 'Not Valid' })).status, 400);
  const unauthorized = await request(`http://${replicas[1]!.adminAddress}/fleet/changes`, { headers: { authorization: 'Bearer cpsc_wrong' } });
  assert.equal(unauthorized.statusCode, 401);
  await unauthorized.body.dump();

  const abort = new AbortController();
  const stream = await request(`http://${replicas[1]!.adminAddress}/fleet/changes?after=0`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  assert.equal(stream.headers['content-type'], 'text/event-stream');
  let text = '';
  const waiting = new Set<() => void>();
  stream.body.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const check of waiting) check();
  });
  const seen = (needle: string) =>
    new Promise<number>((resolve, reject) => {
      const start = performance.now();
      const timer = setTimeout(() => reject(new Error(`no ${needle} in: ${text}`)), 3_000);
      const check = () => {
        if (!text.includes(needle)) return;
        clearTimeout(timer);
        waiting.delete(check);
        resolve(performance.now() - start);
      };
      waiting.add(check);
      check();
    });
  await seen('event: heartbeat');
  const created = await api(0, 'POST', '/sandboxes', { name: 'mine', secrets: {}, metadata: { credproxy_sidecar: 'listener' } });
  const other = await api(0, 'POST', '/sandboxes', { name: 'not-mine', secrets: {}, metadata: { credproxy_sidecar: 'someone-else' } });
  const ms = await seen(created.json.id);
  assert.ok(ms < 1_000, `${ms} ms`);
  assert.ok(!text.includes(other.json.id), "another sidecar's sandbox is not announced to this one");
  // Concurrent writes through both replicas: every change reaches the stream, none skipped by a
  // seq that committed out of order.
  const burst = await Promise.all(
    Array.from({ length: 12 }, (_, i) => api(i % 2, 'POST', '/sandboxes', { name: `burst-${i}`, secrets: {}, metadata: { credproxy_sidecar: 'listener' } })),
  );
  for (const created of burst) await seen(created.json.id);
  // Revoking the sidecar ends its stream.
  assert.equal((await api(0, 'DELETE', '/fleet/sidecars/listener')).status, 204);
  await seen('"kind":"sidecar"');
  abort.abort();
  const listed = await api(1, 'GET', '/fleet/sidecars');
  assert.deepEqual(listed.json, []);
  assert.ok(!logs.text.includes(token), 'the token is never logged');
});

test('examples/fleet/provision.mjs stores secrets, registers a sidecar and writes its token and the sandbox env', { skip }, async () => {
  const out = join(dir, 'provision');
  mkdirSync(join(out, 'secrets'), { recursive: true });
  writeFileSync(join(out, 'secrets', 'anthropic'), 'sk-ant-api03-provisioned-real-value\n');
  const env = {
    PATH: process.env.PATH,
    CREDPROXY_URL: `http://${replicas[0]!.adminAddress}`,
    CREDPROXY_API_KEY: API_KEY,
    SECRETS_DIR: join(out, 'secrets'),
    SIDECAR_NAME: 'pod-a',
    SANDBOX_SECRETS: 'ANTHROPIC_API_KEY=anthropic',
    PROXY_ADDRESS: 'sidecar-a:8080',
    TOKEN_FILE: join(out, 'sidecar', 'token'),
    ENV_FILE: join(out, 'sandbox', 'sandbox.env'),
  };
  const first = await run(process.execPath, ['examples/fleet/provision.mjs'], { env });
  assert.match(first.stdout, /"sandbox provisioned"/);
  // Run again (a pod restarted): the secret is rotated, the sidecar gets a new token.
  const token1 = readFileSync(env.TOKEN_FILE, 'utf8');
  await run(process.execPath, ['examples/fleet/provision.mjs'], { env });
  const token = readFileSync(env.TOKEN_FILE, 'utf8').trim();
  assert.notEqual(token, token1.trim());
  assert.equal(statSync(env.TOKEN_FILE).mode & 0o777, 0o600);
  const sandboxEnv = readFileSync(env.ENV_FILE, 'utf8');
  assert.match(sandboxEnv, /^export HTTPS_PROXY='http:\/\/sb:[A-Za-z0-9_-]+@sidecar-a:8080'$/m);
  assert.match(sandboxEnv, /^export ANTHROPIC_API_KEY='sk-ant-api03-/m);
  assert.ok(!sandboxEnv.includes('provisioned-real-value') && !first.stdout.includes('provisioned-real-value'));
  const bundle = await request(`http://${replicas[1]!.adminAddress}/fleet/changes`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(300),
  }).then((r) => r.statusCode);
  assert.equal(bundle, 200, 'the written token authenticates the sidecar');
  const sandboxes = (await client(0).listSandboxes()).filter((s) => s.name === 'pod-a');
  assert.equal(sandboxes.length, 1, 'the rerun replaced its sandbox: one live sandbox of the name');
  assert.match(sandboxEnv, new RegExp(`sb:${sandboxes[0]!.access_token}@`), "the env file is the live one's");
});
