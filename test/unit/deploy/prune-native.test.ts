import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/**
 * scripts/prune-native.sh, which the Dockerfile's build stage runs on the production
 * node_modules: on a copy of this tree's better-sqlite3 (and what it requires), nothing a compiler
 * left is kept, and the module still loads and answers a query.
 */

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

test('prune-native.sh leaves each native module its .node addon and JavaScript, and it still loads', (t) => {
  const work = mkdtempSync(join(tmpdir(), 'credproxy-prune-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const modules = join(work, 'node_modules');
  for (const name of ['better-sqlite3', 'bindings', 'file-uri-to-path']) cpSync(join('node_modules', name), join(modules, name), { recursive: true });

  execFileSync('sh', ['scripts/prune-native.sh', modules], { stdio: 'pipe', timeout: 20_000 });

  const left = filesUnder(join(modules, 'better-sqlite3'));
  assert.deepEqual(
    left.filter((f) => f.startsWith('build/')),
    ['build/Release/better_sqlite3.node'],
  );
  for (const gone of ['deps', 'src', 'binding.gyp']) assert.ok(!existsSync(join(modules, 'better-sqlite3', gone)), `${gone} is removed`);
  assert.ok(!left.some((f) => /\.(o|a|c|cc|h|mk|gypi)$|Makefile$/.test(f)), `no compiler leftovers: ${left.join(', ')}`);
  assert.ok(left.includes('lib/index.js') && left.includes('package.json'));

  const answer = execFileSync(
    process.execPath,
    ['-e', "const D = require('better-sqlite3'); process.stdout.write(String(new D(':memory:').prepare('select 40 + 2 as x').get().x))"],
    {
      cwd: work,
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(answer, '42');
});
