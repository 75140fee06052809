// The published package runs: `npm pack`, unpack, `node bin/credproxy serve` (the image's command),
// ready line, GET /healthz, `credproxy healthcheck` through a symlink on PATH (as the image has it),
// SIGTERM → exit 0 (docs/contract.md#install). The project's node_modules is linked in rather
// than installed, because installing would rebuild better-sqlite3 from source (~80 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { closedPort } from '../helpers/ports.js';

const ROOT = resolve('.');
const READY_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 15_000;

interface ReadyLine {
  msg: string;
  proxy: string;
  admin: string;
  ca: string;
}

test('the packed package imports as credproxy and credproxy/sdk, and serves: ready line, /healthz, clean exit on SIGTERM', { timeout: 90_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'credproxy-pack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // `npm pack` runs `prepare` (tsc), so a compile error elsewhere in the tree shows up here.
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (pack.status !== 0) {
    const output = `${pack.stdout}\n${pack.stderr}`;
    if (/error TS\d+/.test(output)) {
      t.skip(
        `npm pack failed because the TypeScript build fails; fix the build first:\n${output
          .split('\n')
          .filter((l) => /error TS/.test(l))
          .slice(0, 5)
          .join('\n')}`,
      );
      return;
    }
    assert.fail(`npm pack failed (status ${pack.status}):\n${output}`);
  }
  const filename = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string }>)[0]!.filename;
  const untar = spawnSync('tar', ['-xzf', join(work, filename), '-C', work], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(untar.status, 0, untar.stderr);
  const pkg = join(work, 'package');
  assert.ok(readdirSync(join(pkg, 'dist', 'cli')).includes('main.js'), 'the package holds dist/cli/main.js');
  assert.ok(readdirSync(join(pkg, 'dist', 'audit')).includes('writer-worker.js'), 'the package holds the audit writer thread');
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');

  // A consumer imports the package by name: the SDK as `credproxy/sdk`, the daemon from the main
  // entry, and nothing else (the exports map hides dist/).
  const consumer = join(work, 'consumer');
  mkdirSync(join(consumer, 'node_modules'), { recursive: true });
  symlinkSync(pkg, join(consumer, 'node_modules', 'credproxy'), 'dir');
  const probe = [
    "const sdk = await import('credproxy/sdk');",
    "const main = await import('credproxy');",
    "let deep = 'importable';",
    "try { await import('credproxy/dist/sdk/index.js'); } catch (err) { deep = err.code; }",
    'console.log(JSON.stringify({ client: typeof sdk.CredproxyClient, requestError: typeof sdk.RequestError, createDaemon: typeof main.createDaemon, deep }));',
  ].join('\n');
  const imported = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: consumer, encoding: 'utf8', timeout: 20_000 });
  assert.equal(imported.status, 0, imported.stderr);
  assert.deepEqual(JSON.parse(imported.stdout), {
    client: 'function',
    requestError: 'function',
    createDaemon: 'function',
    deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
  });

  const data = join(work, 'state', 'data');
  const certs = join(work, 'state', 'certs');
  mkdirSync(certs, { recursive: true });
  // `credproxy` on PATH the way the image links it: /usr/local/bin/credproxy → /app/bin/credproxy.
  const onPath = join(work, 'path');
  mkdirSync(onPath);
  symlinkSync(join(pkg, 'bin', 'credproxy'), join(onPath, 'credproxy'));
  const adminPort = await closedPort(); // fixed, so the health check can find it
  const env: NodeJS.ProcessEnv = {
    PATH: `${onPath}:${process.env.PATH}`,
    HOME: work,
    CREDPROXY_PROXY_LISTEN: '127.0.0.1:0',
    CREDPROXY_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
    CREDPROXY_DATA_DIR: data,
    CREDPROXY_CA_CERT: join(certs, 'ca.crt'),
    CREDPROXY_CA_KEY: join(certs, 'ca.key'),
  };
  // The package's own config/default.yaml is found from its directory, as `npm start` would.
  const daemon = spawn(process.execPath, ['bin/credproxy', 'serve'], { cwd: pkg, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(daemon, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  });
  let stderr = '';
  daemon.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });

  const ready = await waitForReady(daemon.stdout, exited, () => stderr);
  assert.match(ready.proxy, /^127\.0\.0\.1:\d+$/);
  assert.equal(ready.admin, `127.0.0.1:${adminPort}`);
  assert.equal(ready.ca, join(certs, 'ca.crt'));

  const health = await fetch(`http://${ready.admin}/healthz`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const check = execFileSync('credproxy', ['healthcheck', '--pid', String(daemon.pid)], { cwd: work, env, encoding: 'utf8', timeout: 20_000 });
  assert.equal(check, `healthy: http://127.0.0.1:${adminPort}/healthz (admin.listen from CREDPROXY_ADMIN_LISTEN; serve pid ${daemon.pid})\n`);

  daemon.kill('SIGTERM');
  const timer = setTimeout(() => daemon.kill('SIGKILL'), EXIT_TIMEOUT_MS);
  const [code, signal] = await exited;
  clearTimeout(timer);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `exit after SIGTERM; stderr:\n${stderr}`);
});

/** The first stdout JSON line whose msg is "ready"; fails if the process exits or the time runs out first. */
function waitForReady(stdout: NodeJS.ReadableStream, exited: Promise<unknown>, stderr: () => string): Promise<ReadyLine> {
  // The reader stays attached for the daemon's whole life so its stdout pipe never fills up.
  const lines = createInterface({ input: stdout });
  const seen: string[] = [];
  return new Promise<ReadyLine>((resolve, reject) => {
    const fail = (why: string): void => reject(new Error(`${why}\nstdout:\n${seen.join('\n')}\nstderr:\n${stderr()}`));
    const timer = setTimeout(() => fail(`no ready line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    void exited.then(() => {
      clearTimeout(timer);
      fail('the daemon exited before it was ready');
    });
    lines.on('line', (line) => {
      if (seen.push(line) > 200) seen.shift();
      let parsed: { msg?: unknown } | undefined;
      try {
        parsed = JSON.parse(line) as { msg?: unknown };
      } catch {
        return;
      }
      if (parsed?.msg === 'ready') {
        clearTimeout(timer);
        resolve(parsed as ReadyLine);
      }
    });
  });
}
