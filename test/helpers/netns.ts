import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { UntypedJson } from './harness/index.js';

/**
 * A network namespace with only loopback, for transparent-mode and "no bypass" tests. Files in
 * `etc` (hosts, resolv.conf, ssl/) are bind-mounted over /etc inside it by `ip netns exec`.
 * Named `cpt-<owner>-<pid>-<n>` so parallel runs never collide; `remove()` deletes the
 * namespace and its /etc/netns folder, and runs on process exit too if a test forgot.
 */
export interface Netns {
  readonly name: string;
  /** /etc/netns/<name>: what the namespace sees as /etc/hosts, /etc/resolv.conf, /etc/ssl. */
  readonly etc: string;
  /** `ip netns exec <name> <command…>`: the argv to spawn. */
  exec(command: string, ...args: string[]): [string, string[]];
  remove(): void;
}

let made = 0;

/** Why namespaces cannot be made here, or undefined when they can (root, `ip`, `iptables`, a kernel that allows it). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)';
  for (const tool of ['ip', 'iptables', 'ip6tables', 'iptables-restore', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (.ci/run installs iproute2, iptables, util-linux)`;
  }
  const probe = `cpt-transparent-${process.pid}-probe`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.status !== 0) return `the kernel refuses network namespaces: ${added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/**
 * Creates the namespace `cpt-<owner>-<pid>-<n>` with `lo` up and the given /etc/hosts lines; the
 * system's openssl.cnf is copied into its /etc/ssl.
 */
export function createNetns(hosts: readonly string[], owner = 'transparent'): Netns {
  const name = `cpt-${owner}-${process.pid}-${++made}`;
  const etc = `/etc/netns/${name}`;
  const remove = (): void => {
    spawnSync('ip', ['netns', 'del', name]);
    rmSync(etc, { recursive: true, force: true });
  };
  process.once('exit', remove);
  try {
    execFileSync('ip', ['netns', 'add', name]);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    mkdirSync(join(etc, 'ssl', 'certs'), { recursive: true });
    if (existsSync('/etc/ssl/openssl.cnf')) copyFileSync('/etc/ssl/openssl.cnf', join(etc, 'ssl', 'openssl.cnf'));
    writeFileSync(join(etc, 'hosts'), `127.0.0.1 localhost\n::1 localhost\n${hosts.join('\n')}\n`);
    writeFileSync(join(etc, 'resolv.conf'), 'nameserver 127.0.0.53\n');
  } catch (err) {
    remove();
    throw err;
  }
  return {
    name,
    etc,
    exec: (command, ...args) => ['ip', ['netns', 'exec', name, command, ...args]],
    remove,
  };
}

/**
 * Makes a namespace with `hosts`, runs `scenario` (a tsx script) inside it as root and returns the
 * JSON of its `RESULT {…}` line; the namespace and every process in the scenario's group go on
 * every exit path, and the scenario is killed after `timeoutMs`.
 */
export async function runNetnsScenario(
  t: TestContext,
  hosts: readonly string[],
  scenario: string,
  options: { owner?: string; timeoutMs: number },
): Promise<Record<string, UntypedJson>> {
  const ns = createNetns(hosts, options.owner);
  t.after(() => ns.remove());
  const [command, args] = ns.exec(process.execPath, '--import', 'tsx', scenario);
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
    }, options.timeoutMs);
    child.once('close', (exit) => {
      clearTimeout(timer);
      resolve(exit);
    });
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(code === 0 && line, `the scenario ran (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-3000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, UntypedJson>;
}
