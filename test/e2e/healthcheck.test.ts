import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli.js';
import { harnessDir, readyLine, serveEnv } from '../helpers/harness/index.js';
import { closedPort } from '../helpers/ports.js';

/**
 * `credproxy healthcheck` (the image's HEALTHCHECK) against a real `credproxy serve`: it follows
 * the admin address serve actually took, also when that came from `serve --config <file>`, which
 * the health check's own command line and environment do not show.
 */

const dir = harnessDir('healthcheck');

test('healthcheck reads serve --config from the serve process, probes that admin port, and fails once serve is gone', async (t) => {
  const port = await closedPort();
  writeFileSync(join(dir, 'credproxy.yaml'), `admin:\n  listen: 127.0.0.1:${port}\n`);
  // As in the image, minus the admin variable (empty is unset), so the file decides it.
  const env = { ...serveEnv(dir), CREDPROXY_ADMIN_LISTEN: '' };
  const serve = await spawnCli(['serve', '--config', 'credproxy.yaml'], { cwd: dir, env });
  t.after(() => serve.kill('SIGKILL'));
  const ready = await readyLine(serve);
  assert.equal(ready.admin, `127.0.0.1:${port}`);

  // Another working directory and no flags: all it knows comes from /proc/<pid>.
  const healthy = await runCli(['healthcheck', '--pid', String(serve.pid)], { cwd: tmpdir(), env });
  assert.equal(healthy.code, 0, healthy.stderr);
  assert.equal(healthy.stdout, `healthy: http://127.0.0.1:${port}/healthz (admin.listen from ${join(dir, 'credproxy.yaml')}; serve pid ${serve.pid})\n`);

  const exited = new Promise((resolve) => serve.once('exit', resolve));
  serve.kill('SIGTERM');
  await exited;
  // The process is gone; the same file, given here, names the same port, where nothing answers now.
  const gone = await runCli(['healthcheck', '--pid', String(serve.pid), '--config', 'credproxy.yaml'], { cwd: dir, env });
  assert.equal(gone.code, 1);
  assert.match(
    gone.stderr,
    new RegExp(
      `^credproxy healthcheck: http://127\\.0\\.0\\.1:${port}/healthz: ECONNREFUSED \\(admin\\.listen from .*credproxy\\.yaml; no credproxy serve at pid ${serve.pid}: own flags and env\\)\\n$`,
    ),
  );
});

test('healthcheck without a serve process to read uses its own flags and environment', async () => {
  const viaEnv = await runCli(['healthcheck', '--pid', String(process.pid)], { cwd: dir, env: { CREDPROXY_ADMIN_LISTEN: `127.0.0.1:${await closedPort()}` } });
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, /ECONNREFUSED \(admin\.listen from CREDPROXY_ADMIN_LISTEN; no credproxy serve at pid \d+/);
  const bad = await runCli(['healthcheck', '--pid', '0', '--admin-listen', 'nonsense'], { cwd: dir });
  assert.equal(bad.code, 1, 'Docker reserves exit codes other than 0 and 1');
  assert.match(bad.stderr, /^credproxy healthcheck: cannot tell the admin address: .*admin\.listen/);
});
