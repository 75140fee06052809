import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { eventually, startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

// deploy / agents / run / env / ca as subprocesses against a real daemon, down to an agent
// calling a (local) api.anthropic.com through the proxy with only its stand-in.

const REAL_KEY = 'sk-ant-api03-REAL-canary-value-0000';
const PRINT_ENV = `console.log(JSON.stringify(Object.fromEntries(
  ['ANTHROPIC_API_KEY', 'DATABASE_URL', 'HTTPS_PROXY', 'NODE_EXTRA_CA_CERTS', 'CREDPROXY_API_KEY'].map((k) => [k, process.env[k] ?? null]))));`;

let d: TestDaemon;
let pki: TestPki;
let upstream: Server;
const received: Array<Record<string, string | string[] | undefined>> = [];
let env: NodeJS.ProcessEnv;
let work: string;

before(async () => {
  pki = await createTestPki('cli-run-upstream');
  upstream = createServer({ SNICallback: pki.certs.sniCallback }, (req, res) => {
    received.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const port = (upstream.address() as AddressInfo).port;
  d = await startDaemon({ flags: { 'upstream.resolve': [`api.anthropic.com:443=127.0.0.1:${port}`], 'upstream.caFile': pki.caPath } });
  env = { CREDPROXY_URL: `http://${d.daemon.adminAddress}`, CREDPROXY_API_KEY: d.daemon.apiKey };
  work = mkdtempSync(join(tmpdir(), 'credproxy-cli-run-'));
  writeFileSync(join(work, 'print-env.js'), PRINT_ENV);
});

after(async () => {
  await d.close();
  upstream.closeAllConnections();
  upstream.close();
  await pki.remove();
  rmSync(work, { recursive: true, force: true });
});

const cli = (args: string[], options: { cwd?: string; input?: string } = {}): Promise<CliResult> => runCli(args, { env, cwd: work, ...options });

function agentFile(name: string, body: string): string {
  const path = join(work, name);
  writeFileSync(path, body);
  return path;
}

test('deploy registers ./credproxy.yaml and reminds of missing secrets; run refuses until they are set', async () => {
  agentFile('credproxy.yaml', 'name: my-agent\ncommand: node print-env.js\nsecrets:\n  - ANTHROPIC_API_KEY\n  - DATABASE_URL\n');
  const deploy = await cli(['deploy']);
  assert.equal(deploy.code, 0, deploy.stderr);
  assert.equal(
    deploy.stdout,
    [
      "✓ Registered agent 'my-agent'",
      '',
      'Set your secrets before running:',
      '  credproxy secrets set my-agent ANTHROPIC_API_KEY=...',
      '  credproxy secrets set my-agent DATABASE_URL=...',
      '',
      'Run it with: credproxy run my-agent',
      '',
    ].join('\n'),
  );

  const refused = await cli(['run', 'my-agent']);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.equal(
    refused.stderr,
    '✗ Missing required secret(s): ANTHROPIC_API_KEY, DATABASE_URL\nSet them with:\n' +
      '  credproxy secrets set my-agent ANTHROPIC_API_KEY=... DATABASE_URL=...\n',
  );

  await cli(['secrets', 'set', 'my-agent', `ANTHROPIC_API_KEY=${REAL_KEY}`]);
  const stillMissing = await cli(['run', 'my-agent']);
  assert.match(stillMissing.stderr, /^✗ Missing required secret\(s\): DATABASE_URL\n/);

  await cli(['secrets', 'set', 'my-agent', 'DATABASE_URL=postgresql://db/app']);
  const redeploy = await cli(['deploy']);
  assert.equal(redeploy.stdout, "✓ Updated agent 'my-agent'\n\nRun it with: credproxy run my-agent\n");

  // The agent sees a stand-in for the provider key, the plain value as is, and never the admin key.
  const run = await cli(['run', 'my-agent']);
  assert.equal(run.code, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as Record<string, string | null>;
  assert.match(seen.ANTHROPIC_API_KEY!, /^sk-ant-api03-[A-Za-z0-9]{48}$/);
  assert.notEqual(seen.ANTHROPIC_API_KEY, REAL_KEY);
  assert.equal(seen.DATABASE_URL, 'postgresql://db/app');
  assert.match(seen.HTTPS_PROXY!, /^http:\/\/sb:[A-Za-z0-9_-]+@127\.0\.0\.1:\d+$/);
  assert.equal(seen.NODE_EXTRA_CA_CERTS, join(d.config.dataDir, 'ca-bundle.pem'));
  assert.equal(seen.CREDPROXY_API_KEY, null);
});

test('an agent calls the upstream through the proxy: the upstream gets the real key, the agent never sees it', async () => {
  agentFile(
    'caller.yaml',
    [
      'name: caller',
      `command: 'curl -sS --fail-with-body -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/v1/messages'`,
      'secrets: [ANTHROPIC_API_KEY]',
    ].join('\n'),
  );
  const create = await cli(['agents', 'create', 'caller.yaml']);
  assert.equal(create.code, 0, create.stderr);
  await cli(['secrets', 'set', 'caller', `ANTHROPIC_API_KEY=${REAL_KEY}`]);
  const before = received.length;
  const run = await cli(['run', 'caller']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, '{"ok":true}');
  assert.equal(received.length, before + 1);
  assert.equal(received.at(-1)!['x-api-key'], REAL_KEY);
  assert.ok(!run.stdout.includes(REAL_KEY) && !run.stderr.includes(REAL_KEY));
  assert.ok(!d.logs.text.includes(REAL_KEY));

  // Rotation: the next run's requests carry the new key through the same stand-in.
  await cli(['secrets', 'set', 'caller', 'ANTHROPIC_API_KEY=sk-ant-api03-ROTATED']);
  assert.equal((await cli(['run', 'caller'])).code, 0);
  assert.equal(received.at(-1)!['x-api-key'], 'sk-ant-api03-ROTATED');
});

test('run -- command: runs it instead, passes its exit code, forwards SIGTERM', async () => {
  await cli(['secrets', 'set', 'cmd-agent', 'PLAIN=1']);
  const exit = await cli(['run', 'cmd-agent', '--', process.execPath, '-e', 'process.exit(Number(process.env.PLAIN) + 6)']);
  assert.equal(exit.code, 7);

  const noCommand = await cli(['run', 'cmd-agent']);
  assert.equal(noCommand.code, 2);
  assert.match(noCommand.stderr, /^✗ Agent 'cmd-agent' has no command\n/);
  const unknown = await cli(['run', 'nobody']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, "✗ Agent 'nobody' not found\n");

  const child = await spawnCli(
    [
      'run',
      'cmd-agent',
      '--',
      process.execPath,
      '-e',
      'process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(5); }); console.log("ready"); setTimeout(() => {}, 15000);',
    ],
    { env, cwd: work },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await eventually('the child ready', () => out.includes('ready'), 15_000);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 5);
  assert.match(out, /got SIGTERM/);
});

test('agents list / get / delete', async () => {
  agentFile('lister.yaml', 'name: lister\ncommand: "true"\nsecrets: [OPENAI_API_KEY]\nignore: [node_modules]\nmystery: 1\n');
  const create = await cli(['agents', 'create', 'lister.yaml']);
  assert.equal(create.code, 0, create.stderr);
  assert.equal(create.stderr, '! Ignoring unknown key(s) in lister.yaml: mystery\n');

  const [table, json, get] = await Promise.all([cli(['agents', 'list']), cli(['agents', 'list', '--json']), cli(['agents', 'get', 'lister'])]);
  assert.match(table.stdout, /^Name\s+Secrets\s+Missing\s+Command\n─+\n/);
  assert.match(table.stdout, /\nlister\s+0\s+OPENAI_API_KEY\s+true\n/);
  const lister = (JSON.parse(json.stdout) as Array<{ name: string; required_secrets: string[] }>).find((a) => a.name === 'lister');
  assert.deepEqual(lister?.required_secrets, ['OPENAI_API_KEY']);
  assert.match(get.stdout, /Missing: +OPENAI_API_KEY/);

  const cancelled = await cli(['agents', 'delete', 'lister'], { input: 'n\n' });
  assert.match(cancelled.stdout, /Cancelled\n$/);
  const deleted = await cli(['agents', 'delete', 'lister', '-y']);
  assert.equal(deleted.stdout, "✓ Deleted agent 'lister'\n");
  assert.equal((await d.api('GET', '/v1/agents/lister')).status, 404);
});

test('agent file errors are clear and exit 2', async () => {
  const cases: Array<[string, RegExp]> = [
    ['name: bad name\n', /bad1\.yaml: name "bad name" must be 1-48 characters/],
    ['command: x\n', /bad2\.yaml: name is required/],
    ['name: ok\nsecrets: ANTHROPIC_API_KEY\n', /bad3\.yaml: secrets must be a list/],
    ['name: ok\nsecrets: [lower-case]\n', /bad4\.yaml: secrets\[0\]: "lower-case" must be a valid environment variable name/],
    ['name: [unclosed\n', /bad5\.yaml: not valid YAML/],
  ];
  const results = await Promise.all(cases.map(([body], i) => cli(['deploy', agentFile(`bad${i + 1}.yaml`, body)])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, cases[i]![1]);
  });
  const missing = await cli(['deploy', 'nope.yaml']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, '✗ Cannot read agent file nope.yaml: ENOENT\n');
});

test('env prints shell-ready lines; ca prints the PEM', async () => {
  const sandbox = await d.api('POST', '/sandboxes', { name: 'env-test', secrets: {}, env_vars: { GREETING: "it's a $test", SIMPLE: 'abc' } });
  assert.equal(sandbox.status, 201, sandbox.text);
  const [envOut, ca, missing] = await Promise.all([cli(['env', sandbox.json.id]), cli(['ca']), cli(['env', 'no-such-sandbox'])]);
  assert.equal(envOut.code, 0, envOut.stderr);
  assert.match(envOut.stdout, /^SIMPLE=abc$/m);
  assert.match(envOut.stdout, /^GREETING='it'\\''s a \$test'$/m);
  // A POSIX shell reads the lines back to the exact values.
  const shell = execFileSync('sh', ['-c', 'eval "$(cat)"; printf "%s|%s" "$GREETING" "$HTTPS_PROXY"'], { input: envOut.stdout, encoding: 'utf8' });
  assert.equal(shell, `it's a $test|${sandbox.json.env.HTTPS_PROXY}`);
  // …and hands them to the processes it starts: the last line exports every variable.
  assert.equal(envOut.stdout.trim().split('\n').at(-1), `export ${Object.keys(sandbox.json.env).join(' ')}`);
  const child = execFileSync('sh', ['-c', 'eval "$(cat)"; sh -c \'printf "%s|%s" "$GREETING" "$HTTPS_PROXY"\''], { input: envOut.stdout, encoding: 'utf8' });
  assert.equal(child, `it's a $test|${sandbox.json.env.HTTPS_PROXY}`);

  const pem = await d.api('GET', '/ca.pem');
  assert.equal(ca.code, 0, ca.stderr);
  assert.equal(ca.stdout.trim(), pem.text.trim());
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "✗ Sandbox 'no-such-sandbox' not found\n");
});
