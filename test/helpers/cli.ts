import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Runs the CLI as a subprocess the way a user would, from the working tree (no `npm run build`).
 *
 * How: once per test process src/cli/main.ts is bundled with esbuild (tsx's own transpiler,
 * npm packages left external) into `node_modules/.credproxy-cli-<pid>-<rand>/main.js`, two levels
 * under the repo like src/cli/main.ts, so its `../../package.json` and package imports resolve
 * as in the real CLI. The audit writer's worker entry is bundled next to it as writer-worker.js,
 * where `serve` looks for it (as dist/audit/ holds both files). Measured on the 2-core box:
 * `node --import tsx src/cli/main.ts … --help` 0.64 s, the bundle 0.19 s; the CLI suites spawn
 * dozens of processes.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = `${ROOT}src/cli/main.ts`;
const AUDIT_WRITER = `${ROOT}src/audit/writer-worker.ts`;

let bundled: Promise<string> | undefined;

/** The CLI bundle's path (built on first use), for tests that run it through a shell. */
export function bundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = `${ROOT}node_modules/.credproxy-cli-${process.pid}-${randomBytes(4).toString('hex')}`;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await build({
      entryPoints: { main: MAIN, 'writer-worker': AUDIT_WRITER },
      outdir: dir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
      // Split, the daemon stays a chunk that only `serve` imports, as with the real build: a command that
      // talks to the admin API starts in 0.4 s instead of 1.25 s (ten `--help` runs, loaded 2-core box).
      splitting: true,
    });
    // Both outputs are ES modules; without this, Node would load a `.js` under node_modules as CommonJS.
    writeFileSync(`${dir}/package.json`, '{ "type": "module" }\n');
    return `${dir}/main.js`;
  })();
  return bundled;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** Added to a clean environment (PATH and HOME only), so the caller's CREDPROXY_* never leak in. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed; stdin is a pipe either way, never a TTY. */
  input?: string;
  /** Kill after this long (default 20 s) so a hung command fails the test instead of blocking it. */
  timeoutMs?: number;
  /** Run as this user (root only), e.g. to see what a non-root daemon is refused. */
  uid?: number;
}

export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const main = await bundle();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the CLI may exit before reading its input
    child.stdin.end(options.input ?? '');
  });
}

/** Spawns the CLI without waiting, for tests that signal or talk to it while it runs. */
export async function spawnCli(args: readonly string[], options: Omit<RunCliOptions, 'input' | 'timeoutMs'> = {}) {
  const main = await bundle();
  return spawn(process.execPath, [main, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
