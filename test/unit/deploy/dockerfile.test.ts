import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ENV_KEYS } from '../../../src/config/schema.js';

interface Instruction {
  op: string;
  args: string;
}

/**
 * Stages of a Dockerfile, each a list of instructions (continuation lines joined, comments
 * dropped), and the global ARGs before the first FROM.
 */
function parseDockerfile(text: string): { globals: Instruction[]; stages: Instruction[][] } {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const globals: Instruction[] = [];
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') stages.push([]);
    (stages.at(-1) ?? globals).push({ op: op.toUpperCase(), args });
  }
  return { globals, stages };
}

const { globals, stages } = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; license: string; files: string[]; bin: Record<string, string> };
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
  for (const tool of ['python3', 'make', 'g++'])
    assert.match(runs, new RegExp(`\\b${tool.replace('+', '\\+')}`), `build stage installs ${tool} for better-sqlite3`);
  assert.match(runs, /npm ci\b/);
  assert.match(runs, /npm run build/);
  assert.match(runs, /npm prune --omit=dev|npm ci [^\n]*--omit=dev/, 'dev dependencies are dropped');
  // The one package: iptables, for the transparent-mode init step (`credproxy iptables --apply`).
  const installs = all(runtime, 'RUN')
    .join('\n')
    .replace(/apt-get install -y --no-install-recommends iptables\b/, '');
  assert.doesNotMatch(installs, /apt-get install|npm (ci|install)/, 'nothing but iptables is installed in the runtime stage');
  const copies = all(runtime, 'COPY');
  for (const what of ['node_modules', 'dist', 'bin', 'config/default.yaml']) {
    assert.ok(
      copies.some((c) => c.split(/\s+/).some((part) => part === what || part === `/app/${what}`)),
      `runtime stage copies ${what}`,
    );
  }
});

test('the runtime stage runs `credproxy serve` as a non-root user', () => {
  const user = one(runtime, 'USER').split(':')[0]!;
  assert.ok(!['root', '0', ''].includes(user), `USER ${user} is not root`);
  const order = runtime.map((i) => i.op);
  assert.ok(order.indexOf('USER') < order.indexOf('CMD'), 'USER comes before CMD');
  assert.equal(one(runtime, 'WORKDIR'), '/app');
  const command = [...(JSON.parse(one(runtime, 'ENTRYPOINT')) as string[]), ...(JSON.parse(one(runtime, 'CMD')) as string[])];
  assert.deepEqual(command, ['node', 'bin/credproxy', 'serve']);
  assert.equal(one(runtime, 'STOPSIGNAL'), 'SIGTERM');
});

test('listeners, paths and volumes follow docs/contract.md#install', () => {
  const env = envOf(runtime);
  assert.equal(env.get('CREDPROXY_PROXY_LISTEN'), '0.0.0.0:8080');
  assert.equal(env.get('CREDPROXY_ADMIN_LISTEN'), '0.0.0.0:8081');
  assert.equal(env.get('CREDPROXY_DATA_DIR'), '/data');
  // The certificate goes to the volume sandboxes mount; the key stays in the private, 0700 one.
  assert.equal(env.get('CREDPROXY_CA_CERT'), '/certs/ca.crt');
  assert.equal(env.get('CREDPROXY_CA_KEY'), '/data/ca.key');
  const known = new Set(ENV_KEYS.map((k) => k.env));
  for (const name of env.keys()) if (name.startsWith('CREDPROXY_')) assert.ok(known.has(name), `${name} is a config variable`);

  assert.deepEqual(one(runtime, 'EXPOSE').split(/\s+/).sort(), ['8080', '8081']);
  assert.deepEqual((JSON.parse(one(runtime, 'VOLUME')) as string[]).sort(), ['/certs', '/data']);
  const order = runtime.map((i) => i.op);
  const chown = all(runtime, 'RUN').find((r) => /chown\s+\S+\s+\/data\s+\/certs/.test(r));
  assert.ok(chown, 'the volumes are chowned to the service user');
  assert.ok(order.indexOf('RUN') < order.indexOf('VOLUME'), 'volumes are declared after they are chowned');
});

test('the health check is `credproxy healthcheck`, which follows the admin address serve took (--config included)', () => {
  const check = one(runtime, 'HEALTHCHECK');
  const command = JSON.parse(/CMD\s+(\[.*\])$/.exec(check)![1]!) as string[];
  assert.deepEqual(command.slice(0, 2), ['credproxy', 'healthcheck'], 'exec form, no shell, on PATH');
  assert.match(check, /--timeout=\d+s/);
});

test('credproxy is on PATH in the image', () => {
  const order = runtime.map((i) => i.op);
  const link = runtime.findIndex((i) => i.op === 'RUN' && /ln -s \/app\/bin\/credproxy \/usr\/local\/bin\/credproxy/.test(i.args));
  assert.ok(link >= 0, 'a symlink into /usr/local/bin');
  assert.ok(link < order.indexOf('USER'), 'made as root, before USER');
});

test('the base image is pinned by digest, and the image carries OCI labels', () => {
  const args = new Map(globals.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
  const digest = args.get('NODE_DIGEST') ?? '';
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(args.get('NODE_IMAGE'), 'node:22-bookworm-slim@${NODE_DIGEST}');
  for (const stage of stages) assert.equal(stage[0]!.args.split(/\s+/)[0], '${NODE_IMAGE}', 'every stage starts from the pinned base');

  const labels = new Map(all(runtime, 'LABEL').flatMap((args) => [...args.matchAll(/([\w.]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string])));
  const runtimeArgs = new Map(all(runtime, 'ARG').map((a) => a.split('=') as [string, string | undefined]));
  assert.equal(labels.get('org.opencontainers.image.title'), 'credproxy');
  assert.equal(labels.get('org.opencontainers.image.version'), '${VERSION}');
  assert.equal(runtimeArgs.get('VERSION'), pkg.version, "the version label defaults to package.json's");
  assert.equal(labels.get('org.opencontainers.image.licenses'), pkg.license);
  assert.equal(labels.get('org.opencontainers.image.base.name'), 'docker.io/library/node:22-bookworm-slim');
  assert.equal(labels.get('org.opencontainers.image.base.digest'), '${NODE_DIGEST}');
  assert.ok(runtimeArgs.has('NODE_DIGEST'), 'the global ARG is brought into the stage for the label');
  for (const key of ['description', 'revision']) assert.ok(labels.has(`org.opencontainers.image.${key}`), key);
});

test('no compiler leftovers reach the runtime stage: the build stage prunes native modules after npm prune', () => {
  const runs = all(build, 'RUN').join('\n');
  assert.match(runs, /npm prune --omit=dev[^\n]*&& scripts\/prune-native\.sh node_modules/);
  assert.ok(all(runtime, 'COPY').includes('--from=build /app/node_modules ./node_modules'));
  assert.ok(!all(runtime, 'COPY').some((c) => /--from=build \/app\/build(\s|\/?$)/.test(c)), "the project's own build/ only as its .node");
});

test('every file the build copies from the context exists and is not excluded by .dockerignore', () => {
  const ignore = readFileSync('.dockerignore', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const excluded = (path: string): boolean => {
    const matches = (pattern: string): boolean => pattern === path || path.startsWith(`${pattern.replace(/\/\*$/, '')}/`);
    return ignore.filter((p) => !p.startsWith('!') && matches(p)).length > 0 && !ignore.includes(`!${path}`);
  };
  const sources = stages
    .flat()
    .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  assert.ok(sources.length > 0);
  for (const source of sources) {
    assert.ok(existsSync(source), `${source} exists`);
    assert.ok(!excluded(source), `${source} is not excluded by .dockerignore`);
  }
  for (const secret of ['certs/ca.key', 'data', '.git', 'node_modules']) assert.ok(excluded(secret), `${secret} stays out of the context`);
});

test("the command's script and config are in the published package", () => {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    }),
  ) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set(packed[0]!.files.map((f) => f.path));
  for (const path of ['bin/credproxy', 'config/default.yaml', 'package.json']) assert.ok(files.has(path), `package contains ${path}`);
  assert.match(readFileSync('bin/credproxy', 'utf8'), /\.\.\/dist\/cli\/main\.js/, 'the bin shim loads dist/cli/main.js');
  assert.equal(pkg.bin.credproxy, 'bin/credproxy');
  assert.ok(pkg.files.includes('dist'), 'dist/ (holding dist/cli/main.js) is published');
  // dist/ exists only after a build; when it does, the entry point must be in the package.
  if (existsSync('dist/cli/main.js')) assert.ok(files.has('dist/cli/main.js'), 'package contains dist/cli/main.js');
});
