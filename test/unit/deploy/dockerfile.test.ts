import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ENV_KEYS } from '../../../src/config/schema.js';

interface Instruction { op: string; args: string }

/** Stages of a Dockerfile, each a list of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Instruction[][] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') stages.push([]);
    stages.at(-1)?.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

const stages = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const [build, runtime] = [stages[0]!, stages.at(-1)!];
const all = (stage: Instruction[], op: string): string[] => stage.filter((i) => i.op === op).map((i) => i.args);
const one = (stage: Instruction[], op: string): string => {
  const found = all(stage, op);
  assert.equal(found.length, 1, `expected exactly one ${op} in the final stage`);
  return found[0]!;
};

/** KEY=value pairs of every ENV instruction of a stage. */
function envOf(stage: Instruction[]): Map<string, string> {
  return new Map(all(stage, 'ENV').flatMap((args) => [...args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as [string, string])));
}

test('the image is built in stages and the runtime stage holds only what runs', () => {
  assert.ok(stages.length >= 2, 'multi-stage build');
  const runs = all(build, 'RUN').join('\n');
  for (const tool of ['python3', 'make', 'g++']) assert.match(runs, new RegExp(`\\b${tool.replace('+', '\\+')}`), `build stage installs ${tool} for better-sqlite3`);
  assert.match(runs, /npm ci\b/);
  assert.match(runs, /npm run build/);
  assert.match(runs, /npm prune --omit=dev|npm ci [^\n]*--omit=dev/, 'dev dependencies are dropped');
  // The one package: iptables, for the transparent-mode init step (`credproxy iptables --apply`).
  const installs = all(runtime, 'RUN').join('\n').replace(/apt-get install -y --no-install-recommends iptables\b/, '');
  assert.doesNotMatch(installs, /apt-get install|npm (ci|install)/, 'nothing but iptables is installed in the runtime stage');
  const copies = all(runtime, 'COPY');
  for (const what of ['node_modules', 'dist', 'bin', 'config/default.yaml']) {
    assert.ok(copies.some((c) => c.split(/\s+/).some((part) => part === what || part === `/app/${what}`)), `runtime stage copies ${what}`);
  }
});

test('the runtime stage runs `credproxy serve` as a non-root user', () => {
  const user = one(runtime, 'USER').split(':')[0]!;
  assert.ok(!['root', '0', ''].includes(user), `USER ${user} is not root`);
  const order = runtime.map((i) => i.op);
  assert.ok(order.indexOf('USER') < order.indexOf('CMD'), 'USER comes before CMD');
  assert.equal(one(runtime, 'WORKDIR'), '/app');
  const command = [...JSON.parse(one(runtime, 'ENTRYPOINT')) as string[], ...JSON.parse(one(runtime, 'CMD')) as string[]];
  assert.deepEqual(command, ['node', 'bin/credproxy', 'serve']);
  assert.equal(one(runtime, 'STOPSIGNAL'), 'SIGTERM');
});

test('listeners, paths and volumes follow docs/contract.md#install', () => {
  const env = envOf(runtime);
  assert.equal(env.get('CREDPROXY_PROXY_LISTEN'), '0.0.0.0:8080');
  assert.equal(env.get('CREDPROXY_ADMIN_LISTEN'), '0.0.0.0:8081');
  assert.equal(env.get('CREDPROXY_DATA_DIR'), '/data');
  assert.equal(env.get('CREDPROXY_CA_CERT'), '/certs/ca.crt');
  assert.equal(env.get('CREDPROXY_CA_KEY'), '/certs/ca.key');
  const known = new Set(ENV_KEYS.map((k) => k.env));
  for (const name of env.keys()) if (name.startsWith('CREDPROXY_')) assert.ok(known.has(name), `${name} is a config variable`);

  assert.deepEqual(one(runtime, 'EXPOSE').split(/\s+/).sort(), ['8080', '8081']);
  assert.deepEqual((JSON.parse(one(runtime, 'VOLUME')) as string[]).sort(), ['/certs', '/data']);
  const order = runtime.map((i) => i.op);
  const chown = all(runtime, 'RUN').find((r) => /chown\s+\S+\s+\/data\s+\/certs/.test(r));
  assert.ok(chown, 'the volumes are chowned to the service user');
  assert.ok(order.indexOf('RUN') < order.indexOf('VOLUME'), 'volumes are declared after they are chowned');
});

test('the health check probes /healthz on the admin port with node (slim images have no curl)', () => {
  const check = one(runtime, 'HEALTHCHECK');
  assert.match(check, /CMD\s+\[\s*"node"/);
  assert.match(check, /\/healthz/);
  assert.match(check, /8081|CREDPROXY_ADMIN_LISTEN/);
});

test('every file the build copies from the context exists and is not excluded by .dockerignore', () => {
  const ignore = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const excluded = (path: string): boolean => {
    const matches = (pattern: string): boolean => pattern === path || path.startsWith(`${pattern.replace(/\/\*$/, '')}/`);
    return ignore.filter((p) => !p.startsWith('!') && matches(p)).length > 0 && !ignore.includes(`!${path}`);
  };
  const sources = stages.flat().filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  assert.ok(sources.length > 0);
  for (const source of sources) {
    assert.ok(existsSync(source), `${source} exists`);
    assert.ok(!excluded(source), `${source} is not excluded by .dockerignore`);
  }
  for (const secret of ['certs/ca.key', 'data', '.git', 'node_modules']) assert.ok(excluded(secret), `${secret} stays out of the context`);
});

test('the command\'s script and config are in the published package', () => {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000,
  })) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set(packed[0]!.files.map((f) => f.path));
  for (const path of ['bin/credproxy', 'config/default.yaml', 'package.json']) assert.ok(files.has(path), `package contains ${path}`);
  assert.match(readFileSync('bin/credproxy', 'utf8'), /\.\.\/dist\/cli\/main\.js/, 'the bin shim loads dist/cli/main.js');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { files: string[]; bin: Record<string, string> };
  assert.equal(pkg.bin.credproxy, 'bin/credproxy');
  assert.ok(pkg.files.includes('dist'), 'dist/ (holding dist/cli/main.js) is published');
  // dist/ exists only after a build; when it does, the entry point must be in the package.
  if (existsSync('dist/cli/main.js')) assert.ok(files.has('dist/cli/main.js'), 'package contains dist/cli/main.js');
});
