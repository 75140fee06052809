import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';

// `credproxy sandboxes create` as a subprocess against a real daemon: the body it builds.

let d: TestDaemon;
let env: NodeJS.ProcessEnv;

before(async () => {
  d = await startDaemon();
  env = { CREDPROXY_URL: `http://${d.daemon.adminAddress}`, CREDPROXY_API_KEY: d.daemon.apiKey };
});

after(() => d.close());

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env });

test('sandboxes create: --source-address (repeatable) declares where its transparent traffic comes from; a claimed one fails', async () => {
  const created = await cli([
    'sandboxes',
    'create',
    '--name',
    'cli-sb',
    '--env',
    'MODE=test',
    '--source-address',
    '10.0.0.9',
    '--source-address',
    'FD00::9',
    '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const sandbox = JSON.parse(created.stdout) as { id: string; source_addresses: string[]; env: Record<string, string> };
  assert.deepEqual(sandbox.source_addresses, ['10.0.0.9', 'fd00::9']);
  assert.equal(sandbox.env.MODE, 'test');
  const claimed = await cli(['sandboxes', 'create', '--name', 'cli-dup', '--source-address', '10.0.0.9']);
  assert.equal(claimed.code, 1);
  assert.match(claimed.stderr, /source_addresses\[0\]: 10\.0\.0\.9 is already declared by sandbox "cli-sb"/);
});

test('sandboxes list: all of them, or one page with --limit and --cursor and how to get the next', async () => {
  for (const name of ['page-a', 'page-b']) assert.equal((await cli(['sandboxes', 'create', '--name', name])).code, 0);
  const all = await cli(['sandboxes', 'list', '--json']);
  assert.equal(all.code, 0, all.stderr);
  const names = (JSON.parse(all.stdout) as Array<{ name: string }>).map((s) => s.name);
  assert.ok(names.length >= 2 && names.includes('page-a') && names.includes('page-b'));
  const first = await cli(['sandboxes', 'list', '--limit', '1']);
  assert.equal(first.code, 0, first.stderr);
  const more = /More: credproxy sandboxes list --limit 1 --cursor (\S+)/.exec(first.stdout);
  assert.ok(more, first.stdout);
  const next = JSON.parse((await cli(['sandboxes', 'list', '--limit', '1000', '--cursor', more[1]!, '--json'])).stdout) as {
    data: Array<{ name: string }>;
    has_more: boolean;
  };
  assert.deepEqual(
    next.data.map((s) => s.name),
    names.slice(1),
  );
  assert.equal(next.has_more, false);
  const bad = await cli(['sandboxes', 'list', '--limit', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Invalid --limit '0'. Use a number from 1 to 1000/);
});
