import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';

// `credproxy secrets set|list|delete` as subprocesses against a real daemon: the messages of docs/contract.md#agent-cli.

let d: TestDaemon;
let env: NodeJS.ProcessEnv;
let scratch: string;

before(async () => {
  d = await startDaemon();
  env = { CREDPROXY_URL: `http://${d.daemon.adminAddress}`, CREDPROXY_API_KEY: d.daemon.apiKey };
  scratch = mkdtempSync(join(tmpdir(), 'credproxy-cli-secrets-'));
});

after(async () => {
  await d.close();
  rmSync(scratch, { recursive: true, force: true });
});

const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env, input });

test("set, list and delete with the agent CLI's messages", async () => {
  const set = await cli(['secrets', 'set', 'my-agent', 'ANTHROPIC_API_KEY=sk-ant-REAL', 'DATABASE_URL=postgresql://u:p@h/db?x=1']);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, "✓ Set 2 secret(s) for agent 'my-agent'\nCurrent secrets: ANTHROPIC_API_KEY, DATABASE_URL\n");

  const [list, json] = await Promise.all([cli(['secrets', 'list', 'my-agent']), cli(['secrets', 'list', 'my-agent', '--json'])]);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.startsWith("Secrets for agent 'my-agent':\n\nKey\n────────────────────\nANTHROPIC_API_KEY\nDATABASE_URL\n"), list.stdout);
  assert.match(list.stdout, /Proxied \(the agent sees a stand-in\): ANTHROPIC_API_KEY/);
  assert.match(list.stdout, /Plain \(passed to the agent as is\): DATABASE_URL/);
  assert.ok(!list.stdout.includes('\u001b['), 'no colour when stdout is not a terminal');
  assert.deepEqual(JSON.parse(json.stdout), [
    { key: 'ANTHROPIC_API_KEY', kind: 'provider' },
    { key: 'DATABASE_URL', kind: 'plain' },
  ]);

  const [no, empty] = await Promise.all([
    cli(['secrets', 'delete', 'my-agent', 'DATABASE_URL'], 'n\n'),
    cli(['secrets', 'delete', 'my-agent', 'DATABASE_URL']),
  ]);
  for (const r of [no, empty]) {
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Delete secret 'DATABASE_URL' from agent 'my-agent'? (y/N) Cancelled\n");
  }

  const yes = await cli(['secrets', 'delete', 'my-agent', 'DATABASE_URL'], 'yes\n');
  assert.equal(yes.code, 0, yes.stderr);
  assert.equal(
    yes.stdout,
    "Delete secret 'DATABASE_URL' from agent 'my-agent'? (y/N) ✓ Deleted secret 'DATABASE_URL' from agent 'my-agent'\nRemaining secrets: ANTHROPIC_API_KEY\n",
  );

  const forced = await cli(['secrets', 'delete', 'my-agent', 'ANTHROPIC_API_KEY', '-y']);
  assert.equal(forced.stdout, "✓ Deleted secret 'ANTHROPIC_API_KEY' from agent 'my-agent'\n");

  const none = await cli(['secrets', 'list', 'my-agent']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, "No secrets configured for agent 'my-agent'\nSet secrets with: credproxy secrets set my-agent KEY=VALUE\n");
});

test('argument errors: exact messages, exit 2, nothing sent', async () => {
  const results = await Promise.all([
    cli(['secrets', 'set', 'bad-args', 'ANTHROPIC_API_KEY']),
    cli(['secrets', 'set', 'bad-args', '=value']),
    cli(['secrets', 'set', 'bad-args']),
    cli(['secrets', 'set', 'bad-args', '--env-file', join(scratch, 'missing.env')]),
  ]);
  const [noEquals, emptyKey, nothing, missingFile] = results;
  assert.equal(noEquals.stderr, "✗ Invalid format 'ANTHROPIC_API_KEY'. Use KEY=VALUE\n");
  assert.equal(emptyKey.stderr, "✗ Empty key in '=value'\n");
  assert.match(nothing.stderr, /^✗ No secrets given/);
  // Node 20 itself claims `--env-file` anywhere on its command line and exits 9 when the file is
  // missing, before credproxy runs; newer Node leaves it to us (exit 2, "Cannot read env file").
  assert.match(missingFile.stderr, /missing\.env/);
  assert.notEqual(missingFile.code, 0);
  for (const r of [noEquals, emptyKey, nothing]) assert.equal(r.code, 2, r.stderr);
  assert.equal((await d.api('GET', '/v1/agents/bad-args')).status, 404);
});

test('API errors: unknown agent or key, invalid key, exit 1', async () => {
  await cli(['secrets', 'set', 'known', 'A=1']);
  const [list, del, delKey, badKey] = await Promise.all([
    cli(['secrets', 'list', 'nobody']),
    cli(['secrets', 'delete', 'nobody', 'A', '-y']),
    cli(['secrets', 'delete', 'known', 'NOPE', '-y']),
    cli(['secrets', 'set', 'known', 'not-an-env-var=1']),
  ]);
  assert.equal(list.stderr, "✗ Agent 'nobody' not found\n");
  assert.equal(del.stderr, "✗ Agent 'nobody' not found\n");
  assert.equal(delKey.stderr, "✗ Secret 'NOPE' not found on agent 'known'\n");
  assert.match(badKey.stderr, /^✗ Invalid secret format: not-an-env-var: key must be a valid environment variable name/);
  for (const r of [list, del, delKey, badKey]) assert.equal(r.code, 1);
});

test('--env-file follows dotenv rules; arguments override the file', async () => {
  const file = join(scratch, 'agent.env');
  writeFileSync(
    file,
    [
      '# a comment',
      '',
      'export PLAIN=simple',
      'WITH_EQUALS=a=b=c',
      "SINGLE='lit $x # not a comment'",
      'DOUBLE="line1\\nline2 \\"quoted\\""',
      'SPACED =  padded value   # trailing comment',
      'HASH=pa#ss',
      'OPENAI_API_KEY=sk-REAL-from-file',
      'OVERRIDDEN=from-file',
    ].join('\n'),
  );
  const r = await cli(['secrets', 'set', 'envf', '--env-file', file, 'OVERRIDDEN=from-arg']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^✓ Set 8 secret\(s\) for agent 'envf'\n/);

  const { env: runEnv } = (await d.api('POST', '/v1/agents/envf/run')).json as { env: Record<string, string> };
  assert.equal(runEnv.PLAIN, 'simple');
  assert.equal(runEnv.WITH_EQUALS, 'a=b=c');
  assert.equal(runEnv.SINGLE, 'lit $x # not a comment');
  assert.equal(runEnv.DOUBLE, 'line1\nline2 "quoted"');
  assert.equal(runEnv.SPACED, 'padded value');
  assert.equal(runEnv.HASH, 'pa#ss');
  assert.equal(runEnv.OVERRIDDEN, 'from-arg');
  assert.match(runEnv.OPENAI_API_KEY!, /^sk-proj-/);

  writeFileSync(file, 'GOOD=1\nthis line is wrong\n');
  const bad = await cli(['secrets', 'set', 'envf', '--env-file', file]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /agent\.env:2: expected KEY=VALUE/);
});

test('API key: from the data dir, refused when wrong, usage error when absent', async () => {
  const url = `http://${d.daemon.adminAddress}`;
  const [fromDir, wrong, absent] = await Promise.all([
    runCli(['secrets', 'list', 'known', '--data-dir', d.config.dataDir], { env: { CREDPROXY_URL: url } }),
    runCli(['secrets', 'list', 'known'], { env: { CREDPROXY_URL: url, CREDPROXY_API_KEY: 'not-the-key-at-all' } }),
    runCli(['secrets', 'list', 'known', '--data-dir', scratch], { env: { CREDPROXY_URL: url } }),
  ]);
  assert.equal(fromDir.code, 0, fromDir.stderr);
  assert.match(fromDir.stdout, /^Secrets for agent 'known':/);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^✗ Not authenticated/);
  assert.ok(!wrong.stderr.includes('not-the-key-at-all'));
  assert.equal(absent.code, 2);
  assert.match(absent.stderr, /No admin API key: set CREDPROXY_API_KEY/);
});

test('--help on every command exits 0; unknown commands and options exit 2', async () => {
  const commands = [
    [],
    ['secrets'],
    ['secrets', 'set'],
    ['secrets', 'list'],
    ['secrets', 'delete'],
    ['deploy'],
    ['agents'],
    ['agents', 'create'],
    ['agents', 'list'],
    ['agents', 'delete'],
    ['run'],
    ['env'],
    ['ca'],
    ['serve'],
    ['sandboxes', 'list'],
  ];
  const helps = await Promise.all(commands.map((c) => cli([...c, '--help'])));
  helps.forEach((r, i) => {
    assert.equal(r.code, 0, `${commands[i]!.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: credproxy/);
  });
  const [unknown, badOption, missingArg] = await Promise.all([cli(['frobnicate']), cli(['secrets', 'list', 'a', '--nope']), cli(['secrets', 'list'])]);
  for (const r of [unknown, badOption, missingArg]) assert.equal(r.code, 2, r.stderr);
});
