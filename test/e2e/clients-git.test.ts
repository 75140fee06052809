import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ProxyAgent, request } from 'undici';
import { CanarySet } from '../helpers/canary.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { createBareRepo, gitBackendHandler } from '../helpers/git-backend.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

/**
 * The GitHub provider's per_host rules with real clients: `git clone` over HTTPS (libcurl, the
 * credentials in the URL, the proxy and CA from the sandbox env) against the real
 * `git http-backend`, and REST calls to api.github.com.
 */
const canaries = new CanarySet();
const REAL = canaries.add('github', 'ghp_');
const README = 'hello from the backend\n';
const realBasic = `Basic ${Buffer.from(`x-access-token:${REAL}`).toString('base64')}`;

let pki: TestPki;
let server: Server;
let daemon: TestDaemon;
let repo: { root: string; path: string };
let env: Record<string, string>;
let home: string;
/** Every Authorization header the upstream saw, by host. */
const authSeen: Array<{ host: string; authorization: string | undefined }> = [];

before(async () => {
  pki = await createTestPki('git-upstream');
  repo = createBareRepo('acme', 'repo', README);
  const git = gitBackendHandler(repo.root, (authorization) => authorization === realBasic);
  server = createServer({ SNICallback: pki.certs.sniCallback }, (req, res) => {
    const host = String(req.headers.host).replace(/:\d+$/, '');
    authSeen.push({ host, authorization: req.headers.authorization });
    if (host === 'github.com') return git(req, res);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  daemon = await startDaemon({
    flags: {
      'upstream.resolve': [`github.com:443=127.0.0.1:${port}`, `api.github.com:443=127.0.0.1:${port}`],
      'upstream.caFile': pki.caPath,
    },
  });
  assert.equal((await daemon.api('POST', '/secrets', { name: 'gh', value: REAL, provider: 'github' })).status, 201);
  const sandbox = await daemon.api('POST', '/sandboxes', { name: 'coder', secrets: { GITHUB_TOKEN: 'gh' } });
  assert.equal(sandbox.status, 201, sandbox.text);
  env = sandbox.json.env;
  home = mkdtempSync(join(tmpdir(), 'credproxy-git-home-'));
});

after(async () => {
  await daemon?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await pki?.remove();
  rmSync(repo.root, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

function run(file: string, args: string[], childEnv: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: childEnv, timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('git clone with the sandbox env alone and the stand-in in the URL', async () => {
  const standIn = env.GITHUB_TOKEN!;
  assert.match(standIn, /^ghp_[A-Za-z0-9]{36}$/);
  const dest = join(home, 'repo');
  // Nothing but the sandbox's env: git reads HTTPS_PROXY (credentials in the URL) and GIT_SSL_CAINFO.
  const res = await run('git', ['clone', '-q', `https://x-access-token:${standIn}@github.com/acme/repo.git`, dest], {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    ...env,
  });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(readFileSync(join(dest, 'README.md'), 'utf8'), README);

  const gitAuth = authSeen.filter((s) => s.host === 'github.com');
  assert.ok(
    gitAuth.some((s) => s.authorization === realBasic),
    'the backend received Basic x-access-token:<real>',
  );
  assert.ok(
    gitAuth.every((s) => s.authorization === undefined || s.authorization === realBasic),
    JSON.stringify(gitAuth),
  );
  assert.ok(!JSON.stringify(authSeen).includes(standIn), 'the backend never saw the stand-in');
  canaries.assertAbsent('git output', res.stdout + res.stderr);
  // The clone's own config keeps the URL it was given: the stand-in, never the real value.
  canaries.assertAbsent('the clone', readFileSync(join(dest, '.git', 'config')));
});

test('REST: a Bearer stand-in leaves as Bearer <real> to api.github.com and as Basic x-access-token to github.com', async () => {
  const agent = new ProxyAgent({ uri: env.HTTPS_PROXY!, requestTls: { ca: readFileSync(env.NODE_EXTRA_CA_CERTS!, 'utf8') } });
  try {
    const bearer = { authorization: `Bearer ${env.GITHUB_TOKEN}` };
    const api = await request('https://api.github.com/user', { dispatcher: agent, headers: bearer });
    const apiText = await api.body.text();
    assert.equal(api.statusCode, 200);
    assert.equal(authSeen.at(-1)!.authorization, `Bearer ${REAL}`);
    canaries.assertAbsent('the api.github.com response', apiText + JSON.stringify(api.headers));
    assert.ok(apiText.includes(env.GITHUB_TOKEN!), 'the echo shows the stand-in back');

    const web = await request('https://github.com/acme/repo.git/info/refs?service=git-upload-pack', { dispatcher: agent, headers: bearer });
    const webText = await web.body.text();
    assert.equal(web.statusCode, 200, webText);
    assert.equal(authSeen.at(-1)!.authorization, realBasic);
    canaries.assertAbsent('the github.com response', webText + JSON.stringify(web.headers));
  } finally {
    await agent.close();
  }
  canaries.assertAbsent('the daemon log', daemon.logs.text);
});
