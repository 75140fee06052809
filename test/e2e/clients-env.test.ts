import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { CanarySet } from '../helpers/canary.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * Real clients configured by nothing but the environment `POST /sandboxes` hands out
 * (CONTRACT §3.6): Python requests, curl and Node (undici's EnvHttpProxyAgent). Each one calls
 * api.openai.com with its stand-in; the upstream must receive the real value and the client's
 * output must never hold it.
 */
const canaries = new CanarySet();
const REAL = canaries.add('openai', 'sk-proj-');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let world: World;
let env: Record<string, string>;

before(async () => {
  world = await startWorld();
  assert.equal((await world.daemon.api('POST', '/secrets', { name: 'openai', value: REAL, provider: 'openai' })).status, 201);
  const sandbox = await world.daemon.api('POST', '/sandboxes', { name: 'agent', secrets: { OPENAI_API_KEY: 'openai' } });
  assert.equal(sandbox.status, 201, sandbox.text);
  env = sandbox.json.env;
});

after(() => world.close());

/** Runs a client with the sandbox's env only (plus PATH and a HOME), bounded in time. */
function sandboxed(file: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 20_000, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

/** The client got the echo (with its own stand-in in it), the upstream got the real value. */
function assertInjected(client: string, out: string, path: string): void {
  canaries.assertAbsent(`${client}'s output`, out);
  assert.ok(out.includes(env.OPENAI_API_KEY!), `${client} sees its stand-in echoed: ${out.slice(0, 300)}`);
  const seen = world.upstream.seen.findLast((s) => s.url === path);
  assert.ok(seen, `${client}'s request reached the upstream`);
  assert.equal(seen.headers.authorization, `Bearer ${REAL}`);
  assert.equal(seen.headers['proxy-authorization'], undefined);
}

test('Python requests: HTTPS_PROXY and REQUESTS_CA_BUNDLE from the env', async () => {
  const script = [
    'import os, requests',
    "r = requests.get('https://api.openai.com/v1/python', headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']}, timeout=15)",
    'print(r.status_code)',
    'print(r.text)',
  ].join('\n');
  // .ci/run points this at an interpreter that has requests when the first python3 on PATH does not.
  const res = await sandboxed(process.env.CREDPROXY_TEST_PYTHON ?? 'python3', ['-c', script]);
  assert.equal(res.code, 0, res.out);
  assert.match(res.out, /^200\n/);
  assertInjected('python', res.out, '/v1/python');
});

test('curl: HTTPS_PROXY and CURL_CA_BUNDLE from the env, no --cacert', async () => {
  const res = await sandboxed('sh', ['-c', 'curl -sS -i --max-time 15 -H "Authorization: Bearer $OPENAI_API_KEY" https://api.openai.com/v1/curl']);
  assert.equal(res.code, 0, res.out);
  assert.match(res.out, /HTTP\/1\.1 200/);
  assertInjected('curl', res.out, '/v1/curl');
});

test("Node: undici's EnvHttpProxyAgent with NODE_EXTRA_CA_CERTS", async () => {
  const script = [
    "import { EnvHttpProxyAgent, request } from 'undici';",
    'const dispatcher = new EnvHttpProxyAgent();',
    "const res = await request('https://api.openai.com/v1/node', { dispatcher, headers: { authorization: `Bearer ${process.env.OPENAI_API_KEY}` } });",
    'console.log(res.statusCode, JSON.stringify(res.headers), await res.body.text());',
    'await dispatcher.close();',
  ].join('\n');
  const res = await sandboxed(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(res.code, 0, res.out);
  assert.match(res.out, /^200 /);
  assertInjected('node', res.out, '/v1/node');
});

test('the daemon log holds no real value after the three clients', () => {
  canaries.assertAbsent('the daemon log', world.daemon.logs.text);
});
