import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The kit's Java agent is committed as a jar (building credproxy needs no JDK); this checks that
 * the jar is what CredproxyAgent.java compiles to, so the source can be reviewed instead of the
 * bytes. Rebuild with scripts/build-java-agent.sh.
 */
const DIR = resolve('src/kit/java');
const missing = ['javac', 'javap', 'jar'].find((tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0);

test(
  'the committed credproxy-java-agent.jar is CredproxyAgent.java compiled',
  { skip: missing ? `${missing} is not installed (.ci/run installs Debian's openjdk-17-jdk-headless)` : false },
  (t) => {
    const work = mkdtempSync(join(tmpdir(), 'credproxy-java-agent-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    execFileSync('javac', ['--release', '11', '-d', join(work, 'fresh'), join(DIR, 'CredproxyAgent.java')]);
    execFileSync('jar', ['--extract', '--file', join(DIR, 'credproxy-java-agent.jar')], { cwd: work });
    // Disassembled, not byte for byte: constant-pool order may differ between JDK 17 updates.
    const disassemble = (classDir: string) => execFileSync('javap', ['-c', '-p', '-cp', classDir, 'CredproxyAgent'], { encoding: 'utf8' });
    assert.equal(disassemble(work), disassemble(join(work, 'fresh')), 'run scripts/build-java-agent.sh and commit the jar');
    assert.match(readFileSync(join(work, 'META-INF', 'MANIFEST.MF'), 'utf8'), /^Premain-Class: CredproxyAgent\r?$/m);
  },
);
