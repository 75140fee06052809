import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProxyAgent, request } from 'undici';
import { runCli, spawnCli } from '../helpers/cli.js';
import { eventually, harnessDir, readyLine, serveEnv } from '../helpers/harness/index.js';
import { createTestPki } from '../helpers/pki.js';
import { startUpstream } from '../helpers/upstream.js';

/** Starts `serve`, waits for the ready line, fetches the CA over the admin API, then SIGTERMs it. */
async function serveOnce(dir: string, extraEnv: Record<string, string> = {}) {
  const child = await spawnCli(['serve'], { cwd: dir, env: { ...serveEnv(dir), ...extraEnv } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    const ready = await readyLine(child);
    const health = await request(`http://${ready.admin}/healthz`);
    const caPem = await (await request(`http://${ready.admin}/ca.pem`)).body.text();
    child.kill('SIGTERM');
    return { ready, health: { status: health.statusCode, body: await health.body.json() }, caPem, code: await exited };
  } finally {
    clearTimeout(kill);
  }
}

test('serve: ready line with proxy, admin and ca; /healthz; SIGTERM exits 0; a restart keeps the CA', async () => {
  const dir = harnessDir('serve');
  const first = await serveOnce(dir);
  assert.match(first.ready.proxy, /^127\.0\.0\.1:\d+$/);
  assert.match(first.ready.admin, /^127\.0\.0\.1:\d+$/);
  assert.equal(first.ready.ca, join(dir, 'certs', 'ca.crt'));
  assert.deepEqual(first.health, { status: 200, body: { status: 'ok' } });
  assert.equal(first.code, 0);
  assert.equal(first.caPem, readFileSync(first.ready.ca, 'utf8'));

  const second = await serveOnce(dir, { CREDPROXY_LOG_LEVEL: 'warn' });
  assert.equal(second.caPem, first.caPem, 'clients keep trusting the same CA');
  assert.equal(second.code, 0, 'the ready line is written even at log level warn');
});

/** Writes a key file into `<dir>/data` the way a careless copy leaves it: readable by everyone. */
const readableKeyFile =
  (name: string, content: string) =>
  (dir: string): void => {
    mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'data', name), `${content}\n`, { mode: 0o644 });
  };

const BAD_CONFIGS: Array<{ name: string; env?: Record<string, string>; yaml?: string; args?: string[]; prepare?: (dir: string) => void; key: string }> = [
  { name: 'a listen address without a port', env: { CREDPROXY_PROXY_LISTEN: 'localhost' }, key: 'proxy.listen' },
  { name: 'a boolean that is not one', env: { CREDPROXY_ALLOW_PRIVATE: 'sometimes' }, key: 'egress.allowPrivateNetworks' },
  { name: 'a short master key', env: { CREDPROXY_MASTER_KEY: 'c2hvcnQ=' }, key: 'masterKey' },
  { name: 'an unknown key in the file', yaml: 'proxy:\n  listne: 127.0.0.1:0\n', key: 'proxy.listne' },
  { name: 'a bad flag value', args: ['--admin-listen', '127.0.0.1:99999'], key: 'admin.listen' },
  { name: 'a world-readable master.key', prepare: readableKeyFile('master.key', randomBytes(32).toString('base64')), key: 'masterKey' },
  { name: 'a world-readable admin-api-key', prepare: readableKeyFile('admin-api-key', randomBytes(32).toString('base64url')), key: 'admin.apiKey' },
];

for (const bad of BAD_CONFIGS) {
  test(`serve: ${bad.name} → one line naming ${bad.key}, exit 2`, async () => {
    const dir = harnessDir('serve');
    const args = ['serve', ...(bad.args ?? [])];
    bad.prepare?.(dir);
    if (bad.yaml !== undefined) {
      writeFileSync(join(dir, 'bad.yaml'), bad.yaml);
      args.push('--config', join(dir, 'bad.yaml'));
    }
    const result = await runCli(args, { cwd: dir, env: { ...serveEnv(dir), ...bad.env } });
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.ok(lines[0]!.includes(bad.key), lines[0]);
    assert.equal(result.stdout.includes('"msg":"ready"'), false);
  });
}

test("serve: a second daemon on the same data dir is refused, naming the first one's pid; a killed one leaves no stale lock", async () => {
  const dir = harnessDir('serve');
  const first = await spawnCli(['serve'], { cwd: dir, env: serveEnv(dir) });
  try {
    await readyLine(first);
    const second = await runCli(['serve'], { cwd: dir, env: serveEnv(dir) });
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr.trim(), new RegExp(`dataDir: .* is in use by another credproxy \\(pid ${first.pid}\\)`));
    assert.equal(second.stdout.includes('"msg":"ready"'), false);
  } finally {
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;
  }
  // The kernel dropped the dead process's lock: the next start serves.
  const again = await serveOnce(dir);
  assert.equal(again.code, 0);
});

test('serve: SIGHUP drains like SIGTERM: the request in flight finishes, then exit 0', async () => {
  const dir = harnessDir('serve');
  const pki = await createTestPki('sighup-upstream');
  const upstream = await startUpstream({ pki });
  const child = await spawnCli(['serve'], {
    cwd: dir,
    env: {
      ...serveEnv(dir),
      CREDPROXY_RESOLVE: `slow.example.test:443=127.0.0.1:${upstream.port}`,
      CREDPROXY_UPSTREAM_CA: pki.caPath,
      CREDPROXY_REQUIRE_PROXY_AUTH: 'false',
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const ready = await readyLine(child);
  const agent = new ProxyAgent({ uri: `http://${ready.proxy}`, requestTls: { ca: readFileSync(ready.ca, 'utf8') } });
  try {
    const pending = request('https://slow.example.test/slow-headers?ms=1000', { dispatcher: agent });
    // In flight: the upstream has the request and holds its answer for a second.
    await eventually('the request at the upstream', () => upstream.requests > 0, 10_000);
    child.kill('SIGHUP');
    const res = await pending;
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.equal(await exited, 0);
  } finally {
    clearTimeout(kill);
    await agent.close();
    await upstream.close();
    await pki.remove();
  }
});
