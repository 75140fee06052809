import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { closedPort } from '../helpers/ports.js';

/** CLI failures a person can act on: a mistyped command, a wrong --url, a closed pipe. */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let d: TestDaemon;

before(async () => {
  d = await startDaemon({ flags: { 'log.level': 'warn' } });
});
after(() => d.close());

test('a mistyped command is told the one it resembles, exit 2', async () => {
  const result = await runCli(['serv']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown command 'serv'/);
  assert.match(result.stderr, /Did you mean serve\?/);
});

test('--version and --help of other commands do not load the daemon (fastify, SQLite, node-forge, pino)', async () => {
  // From the sources under tsx, which keeps each module's own imports: a bundle would hoist them.
  const listLoaded = `import { createRequire } from 'node:module';
    const { _cache } = createRequire(process.cwd() + '/')('node:module');
    process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify([...new Set(Object.keys(_cache)
      .flatMap((p) => /node_modules\\/(fastify|better-sqlite3|node-forge|pino)\\//.exec(p)?.[1] ?? []))]) + '\\n'));`;
  for (const args of [['--version'], ['secrets', '--help'], ['serve', '--help']]) {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(listLoaded)}`, '--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, timeout: 20_000 },
    );
    assert.ok(stdout.length > 0);
    assert.match(stderr, /^LOADED \[\]$/m, `${args.join(' ')}: ${stderr}`);
  }
});

test('an admin URL without a scheme is refused before anything is sent, exit 2', async () => {
  const result = await runCli(['sandboxes', 'list', '--url', '127.0.0.1:8081'], { env: { CREDPROXY_API_KEY: 'k'.repeat(20) } });
  assert.equal(result.code, 2);
  assert.equal(result.stderr, '✗ --url "127.0.0.1:8081" is not an http:// URL; try --url http://127.0.0.1:8081\n');
});

test('nothing listening at the admin URL: says so and what to check, exit 1', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const result = await runCli(['sandboxes', 'list', '--url', url], { env: { CREDPROXY_API_KEY: 'k'.repeat(20) } });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `✗ connection refused — is credproxy serve running at ${url}?\n` +
      'Point --url (or CREDPROXY_URL) at the admin listener: the "admin" address in serve\'s ready line.\n',
  );
});

test('the proxy port given instead of the admin port: says which listener it reached', async () => {
  const result = await runCli(['sandboxes', 'list', '--url', `http://${d.daemon.proxyAddress}`], { env: { CREDPROXY_API_KEY: d.daemon.apiKey } });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /is credproxy's proxy listener, not its admin API: use the admin address/);
});

test('`credproxy env … | true`: a reader that went away is no crash, exit 0', async () => {
  const sandbox = (await d.api('POST', '/sandboxes', { name: 'epipe', secrets: {}, env_vars: { A: 'x'.repeat(4000) } })).json;
  const { bundle } = await import('../helpers/cli.js');
  const main = await bundle();
  const { stdout, stderr } = await run(
    'bash',
    ['--norc', '--noprofile', '-c', `"${process.execPath}" "${main}" env ${sandbox.id} | true; echo "exit=\${PIPESTATUS[0]}"`],
    {
      env: { PATH: process.env.PATH, CREDPROXY_URL: `http://${d.daemon.adminAddress}`, CREDPROXY_API_KEY: d.daemon.apiKey },
      timeout: 20_000,
    },
  );
  assert.equal(stdout, 'exit=0\n');
  assert.equal(stderr, '');
});
