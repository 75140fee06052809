import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import semver from 'semver';

interface LockEntry {
  version?: string;
  dev?: boolean;
  engines?: { node?: string };
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockEntry> };
const minimum = semver.minVersion(pkg.engines.node)!;

test('every installed package accepts the lowest Node version package.json claims (npm ci warns otherwise)', () => {
  const refusing = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.engines?.node !== undefined)
    .filter(([, entry]) => !semver.satisfies(minimum, entry.engines!.node!))
    .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${entry.engines!.node}${entry.dev ? ' (dev)' : ''}`);
  assert.deepEqual(refusing, [], `package.json says node ${pkg.engines.node}`);
});

test('the README states the same Node requirement as package.json, and this process meets it', () => {
  const readme = readFileSync('README.md', 'utf8');
  const stated = /Node ≥ (\d+\.\d+(?:\.\d+)?)/.exec(readme)?.[1];
  assert.ok(stated, 'the README names a Node version');
  assert.equal(semver.coerce(stated)!.version, minimum.version);
  assert.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} satisfies ${pkg.engines.node}`);
});
