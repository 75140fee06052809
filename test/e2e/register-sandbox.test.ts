import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { tunnelRaw } from '../helpers/tunnel-raw.js';

// examples/kubernetes/register-sandbox.mjs (also the compose example's register step) run again
// and again against a real daemon, as a restarted pod runs it: one live sandbox of the name, its
// tokens unchanged while SANDBOX_SECRETS is; replaced, the old token refused, when it changes.

const run = promisify(execFile);
let daemon: TestDaemon;
let dir: string;

before(async () => {
  daemon = await startDaemon({ flags: { 'log.level': 'warn' } });
  dir = join(daemon.dir, 'register');
  mkdirSync(dir);
  writeFileSync(join(dir, 'anthropic'), 'sk-ant-api03-register-real-value\n');
});

after(async () => {
  await daemon.close();
  rmSync(daemon.dir, { recursive: true, force: true });
});

async function register(secrets: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['examples/kubernetes/register-sandbox.mjs'], {
    timeout: 15_000,
    env: {
      PATH: process.env.PATH,
      CREDPROXY_URL: `http://${daemon.daemon.adminAddress}`,
      CREDPROXY_API_KEY: daemon.daemon.apiKey,
      SANDBOX_NAME: 'pod-sandbox',
      SANDBOX_SECRETS: secrets,
      SECRETS_DIR: dir,
      ENV_FILE: join(dir, 'sandbox.env'),
    },
  });
  return stdout;
}

async function named(): Promise<Array<{ id: string; access_token: string; secrets: Array<{ env_key: string }> }>> {
  return (await daemon.api('GET', '/sandboxes')).json.filter((s: { name: string }) => s.name === 'pod-sandbox');
}

test('the register step run again (pod restart) reuses the live sandbox of its name; changed bindings replace it', async () => {
  await register('ANTHROPIC_API_KEY=anthropic');
  const [first] = await named();
  assert.ok(first);
  const envFile = readFileSync(join(dir, 'sandbox.env'), 'utf8');
  assert.match(envFile, new RegExp(`sb:${first.access_token}@`));

  const again = await register('ANTHROPIC_API_KEY=anthropic');
  assert.match(again, /"sandbox reused"/);
  assert.deepEqual(
    (await named()).map((s) => s.id),
    [first.id],
    'still one live sandbox, the same one',
  );
  assert.equal(readFileSync(join(dir, 'sandbox.env'), 'utf8'), envFile, 'same tokens, same env file');

  await register('ANTHROPIC_API_KEY=anthropic,CLAUDE_KEY=anthropic');
  const now = await named();
  assert.equal(now.length, 1, 'replaced, not added');
  assert.notEqual(now[0]!.id, first.id);
  assert.deepEqual(
    now[0]!.secrets.map((b) => b.env_key),
    ['ANTHROPIC_API_KEY', 'CLAUDE_KEY'],
  );
  const caPem = readFileSync(daemon.daemon.caPath, 'utf8');
  const old = await tunnelRaw('api.anthropic.com', '', { proxyAddress: daemon.daemon.proxyAddress, caPem, accessToken: first.access_token, ms: 1000 });
  assert.match(old, /^HTTP\/1\.1 407 [^]*X-Credproxy-Reason: proxy_auth_required\r\n/, "the replaced sandbox's token no longer authenticates");
  assert.doesNotMatch(readFileSync(join(dir, 'sandbox.env'), 'utf8'), /register-real-value/);
});
