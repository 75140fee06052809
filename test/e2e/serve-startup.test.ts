import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli.js';
import { harnessDir, readyLine, serveEnv, type UntypedJson } from '../helpers/harness/index.js';

/**
 * `credproxy serve` failing to start the way an operator meets it: one line on stderr naming
 * the key and the cause, exit 2, and no ready line; and a SIGTERM during start-up exits 0.
 */

/** A port something else already holds, for as long as the test runs. */
async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

async function failsToStart(env: Record<string, string>, options: { uid?: number; dir?: string } = {}): Promise<string> {
  const dir = options.dir ?? harnessDir('startup');
  const result = await runCli(['serve'], { cwd: dir, env: { ...serveEnv(dir), ...env }, uid: options.uid });
  assert.equal(result.code, 2, `exit 2; stderr: ${result.stderr}`);
  assert.doesNotMatch(result.stdout, /"msg":"ready"/);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  return lines[0]!;
}

test('a proxy or admin port already in use: one line naming the key, the address, where it came from, and the cause', async () => {
  const { port, server } = await takenPort();
  try {
    assert.equal(
      await failsToStart({ CREDPROXY_PROXY_LISTEN: `127.0.0.1:${port}` }),
      `credproxy: proxy.listen 127.0.0.1:${port} (from CREDPROXY_PROXY_LISTEN): address already in use`,
    );
    assert.equal(
      await failsToStart({ CREDPROXY_ADMIN_LISTEN: `127.0.0.1:${port}` }),
      `credproxy: admin.listen 127.0.0.1:${port} (from CREDPROXY_ADMIN_LISTEN): address already in use`,
    );
  } finally {
    server.close();
  }
});

test('an address that is not on this host', async () => {
  // 192.0.2.0/24 is TEST-NET-1: never assigned to a host, so bind() refuses it; nothing is sent anywhere.
  assert.equal(
    await failsToStart({ CREDPROXY_PROXY_LISTEN: '192.0.2.1:0' }),
    'credproxy: proxy.listen 192.0.2.1:0 (from CREDPROXY_PROXY_LISTEN): address not available on this host',
  );
});

test('upstream.caFile that cannot be read, or holds no PEM certificate', async () => {
  const dir = harnessDir('startup');
  const missing = join(dir, 'missing.pem');
  assert.equal(
    await failsToStart({ CREDPROXY_UPSTREAM_CA: missing }, { dir }),
    `credproxy: invalid configuration: upstream.caFile: cannot read ${missing}: no such file or directory`,
  );
  const notPem = join(dir, 'roots.pem');
  writeFileSync(notPem, 'this is not a certificate\n');
  assert.equal(
    await failsToStart({ CREDPROXY_UPSTREAM_CA: notPem }, { dir }),
    `credproxy: invalid configuration: upstream.caFile: ${notPem} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)`,
  );
  writeFileSync(notPem, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
  assert.match(await failsToStart({ CREDPROXY_UPSTREAM_CA: notPem }, { dir }), /upstream\.caFile: certificate 1 of 1 in .* does not parse as X\.509$/);
});

test('a data or certs directory that cannot be created names its key', async () => {
  const dir = harnessDir('startup');
  writeFileSync(join(dir, 'file'), '');
  assert.match(
    await failsToStart({ CREDPROXY_DATA_DIR: join(dir, 'file', 'data') }, { dir }),
    /^credproxy: invalid configuration: dataDir: cannot use .*file.*: a parent path is not a directory$/,
  );
  assert.match(
    await failsToStart({ CREDPROXY_CA_CERT: join(dir, 'file', 'ca.crt') }, { dir }),
    /^credproxy: invalid configuration: ca\.cert: cannot read .*file\/ca\.crt: a parent path is not a directory$/,
  );
});

const asNobody = process.getuid?.() === 0 ? 65534 : undefined;

test(
  'run as a user without rights: a privileged port, an unwritable data or certs directory',
  { skip: asNobody === undefined && 'needs root to run the daemon as uid 65534' },
  async () => {
    const dir = harnessDir('startup');
    chmodSync(dir, 0o755);
    const owned = join(dir, 'root-owned');
    mkdirSync(owned, { mode: 0o755 });
    const writable = join(dir, 'state');
    mkdirSync(writable);
    chmodSync(writable, 0o777);
    const env = { ...serveEnv(writable), CREDPROXY_DATA_DIR: join(writable, 'data') };
    assert.equal(
      await failsToStart({ ...env, CREDPROXY_PROXY_LISTEN: '127.0.0.1:1' }, { uid: asNobody, dir: writable }),
      'credproxy: proxy.listen 127.0.0.1:1 (from CREDPROXY_PROXY_LISTEN): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
    );
    assert.equal(
      await failsToStart({ ...env, CREDPROXY_DATA_DIR: owned }, { uid: asNobody, dir: writable }),
      `credproxy: invalid configuration: dataDir: cannot write to ${owned}: permission denied`,
    );
    assert.equal(
      await failsToStart({ ...env, CREDPROXY_CA_CERT: join(owned, 'ca.crt') }, { uid: asNobody, dir: writable }),
      `credproxy: invalid configuration: ca.cert: cannot write to ${owned}: permission denied`,
    );
  },
);

test('SIGTERM before the ready line: the start stops, exit 0, no ready line', async (t) => {
  const dir = harnessDir('startup');
  // A FIFO as upstream.caFile holds the start-up at a known point until the test writes to it.
  const fifo = join(dir, 'roots.fifo');
  execFileSync('mkfifo', [fifo]);
  const child = await spawnCli(['serve'], { cwd: dir, env: { ...serveEnv(dir), CREDPROXY_UPSTREAM_CA: fifo, CREDPROXY_LOG_LEVEL: 'info' } });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  const seen = (msg: string) =>
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (stdout.includes(`"msg":"${msg}"`)) resolve();
      };
      child.stdout.on('data', check);
      check();
    });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  await seen('generated CA certificate');
  child.kill('SIGTERM');
  await seen('stopping');
  const writer = await open(fifo, 'w');
  // Whatever it reads now, the start was asked to stop.
  await writer.writeFile('not read any further\n');
  await writer.close();
  assert.equal(await exited, 0, stdout);
  const messages = stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
  assert.ok(messages.includes('stopped before ready'), messages.join(', '));
  assert.ok(!messages.includes('ready'), messages.join(', '));
});

test('the start-up log says where each key came from, and warns when a variable overrides the config file', async (t) => {
  const dir = harnessDir('startup');
  const file = join(dir, 'credproxy.yaml');
  // As in the image: the file names an address, the image's variable another.
  writeFileSync(file, 'proxy:\n  listen: 127.0.0.1:0\n');
  const child = await spawnCli(['serve', '--config', file], { cwd: dir, env: { ...serveEnv(dir), CREDPROXY_LOG_LEVEL: 'info' } });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer | string) => (stdout += chunk.toString()));
  await readyLine(child);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const entries = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, UntypedJson>);
  const configuration = entries.find((e) => e.msg === 'configuration')!;
  assert.equal(configuration.file, file);
  assert.equal(configuration.from['proxy.listen'], 'CREDPROXY_PROXY_LISTEN');
  assert.equal(configuration.from['admin.listen'], 'CREDPROXY_ADMIN_LISTEN');
  const warning = entries.find((e) => e.level === 'warn' && e.key === 'proxy.listen');
  assert.ok(warning, 'a warning names the overridden key');
  assert.equal(warning.msg, `proxy.listen from ${file} is overridden by CREDPROXY_PROXY_LISTEN (flags > environment > file)`);
});
