import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ProxyAgent, request } from 'undici';
import { CanarySet } from '../helpers/canary.js';
import { spawnCli } from '../helpers/cli.js';
import { harnessDir, readyLine, serveEnv } from '../helpers/harness/index.js';
import { startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { tunnelRaw } from '../helpers/tunnel-raw.js';

/**
 * docs/contract.md#never-leak for the real process: `credproxy serve` as a subprocess at debug level, a short
 * full run (secrets, sandboxes, injected and refused requests, echoing upstream, admin errors),
 * SIGTERM, then its captured stdout and stderr and every file it wrote are searched for the
 * canaries.
 */
const canaries = new CanarySet();
const REAL = { bearer: canaries.add('bearer'), openai: canaries.add('openai', 'sk-proj-'), dup: canaries.add('dup') };
const HOST = 'hostile.test';

let pki: TestPki;
let hostile: HostileUpstream;
let dir: string;

before(async () => {
  pki = await createTestPki('serve-upstream');
  hostile = await startHostileUpstream(pki);
  dir = harnessDir('serve-leaks');
});

after(async () => {
  await hostile.close();
  await pki.remove();
});

test('a full run of `credproxy serve`: no real value in its output or its files', { timeout: 40_000 }, async () => {
  const child = await spawnCli(['serve'], {
    cwd: dir,
    env: {
      ...serveEnv(dir),
      CREDPROXY_RESOLVE: `${HOST}:443=127.0.0.1:${hostile.port},api.openai.com:443=127.0.0.1:${hostile.port}`,
      CREDPROXY_UPSTREAM_CA: pki.caPath,
      CREDPROXY_LOG_LEVEL: 'debug',
    },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 35_000);
  const clientSaw: string[] = [];
  let agent: ProxyAgent | undefined;
  try {
    const addresses = await readyLine(child);
    const apiKey = readFileSync(join(dir, 'data', 'admin-api-key'), 'utf8').trim();
    const admin = async (method: string, path: string, body?: unknown, raw?: string) => {
      const res = await request(`http://${addresses.admin}${path}`, {
        method: method as 'GET',
        headers: { 'x-api-key': apiKey, ...(body !== undefined || raw ? { 'content-type': 'application/json' } : {}) },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await res.body.text();
      clientSaw.push(text);
      const json = res.headers['content-type']?.includes('json') ? JSON.parse(text) : undefined;
      return { status: res.statusCode, json };
    };
    assert.equal((await admin('POST', '/secrets', { name: 'bearer', value: REAL.bearer, auth: { type: 'bearer' }, hosts: [HOST] })).status, 201);
    assert.equal((await admin('POST', '/secrets', { name: 'openai', value: REAL.openai, provider: 'openai' })).status, 201);
    assert.equal((await admin('POST', '/secrets', { name: 'bearer', value: REAL.dup, auth: { type: 'bearer' }, hosts: [HOST] })).status, 409);
    assert.equal((await admin('POST', '/secrets', undefined, `{"name":"x","value":"${REAL.dup}"`)).status, 400);
    const sandbox = (await admin('POST', '/sandboxes', { name: 'sb', secrets: { T: 'bearer', OPENAI_API_KEY: 'openai' } })).json;

    agent = new ProxyAgent({ uri: sandbox.env.HTTPS_PROXY, requestTls: { ca: readFileSync(addresses.ca, 'utf8') } });
    const send = async (url: string, headers: Record<string, string>) => {
      try {
        const res = await request(url, { dispatcher: agent, headers });
        const text = await res.body.text();
        clientSaw.push(JSON.stringify(res.headers) + text);
        return res.statusCode;
      } catch (err) {
        clientSaw.push(String(err));
        return 0;
      }
    };
    const statuses: number[] = [];
    for (const path of ['/echo', '/redirect', '/cookie', '/error', '/gzip', '/split', '/base64']) {
      statuses.push(await send(`https://${HOST}${path}`, { authorization: `Bearer ${sandbox.env.T}` }));
    }
    statuses.push(await send('https://api.openai.com/v1/models', { authorization: `Bearer ${sandbox.env.OPENAI_API_KEY}` }));
    statuses.push(await send(`https://api.openai.com/mismatch`, { authorization: `Bearer ${sandbox.env.T}` }));
    assert.deepEqual(statuses, [200, 302, 200, 401, 200, 200, 200, 200, 403]);
    clientSaw.push(
      await tunnelRaw(HOST, `GET /redirect HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${sandbox.env.T}\r\nConnection: close\r\n\r\n`, {
        proxyAddress: addresses.proxy,
        caPem: readFileSync(addresses.ca, 'utf8'),
        accessToken: sandbox.access_token,
      }),
    );
    assert.ok(
      hostile.seen.some((s) => s.headers.authorization === `Bearer ${REAL.bearer}`),
      'the value was injected',
    );
    for (const path of ['/secrets', '/secrets/bearer/audit', `/sandboxes/${sandbox.id}`, `/sandboxes/${sandbox.id}/network`, '/metrics']) {
      assert.equal((await admin('GET', path)).status, 200, path);
    }
  } finally {
    await agent?.close();
    child.kill('SIGTERM');
    await exited;
    clearTimeout(kill);
  }
  assert.equal(await exited, 0, output.stderr);
  assert.match(output.stdout, /"level":"debug"/, 'debug lines were written');
  for (const [i, text] of clientSaw.entries()) canaries.assertAbsent(`client response #${i}`, text);
  canaries.assertAbsent('serve stdout', output.stdout);
  canaries.assertAbsent('serve stderr', output.stderr);
  const files = canaries.assertAbsentInDir(dir);
  assert.ok(
    files.some((f) => f.endsWith('.db') || f.endsWith('.sqlite')),
    `the database was scanned: ${files}`,
  );
});
