import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildStats } from './child-stats.js';
import type { BenchTarget } from './proxy-modes.js';

export type ProxyStats = ChildStats;

/** A proxy running alone in a child process (bench/proxy-child.ts), driven over IPC. */
export interface ProxyProcess {
  readonly port: number;
  readonly caPem: string;
  readonly proxyAuthorization: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** `port` is a transparent listener (connect straight, SNI = the host). */
  readonly transparent: boolean;
  stats(options?: { gc?: boolean }): Promise<ProxyStats>;
  stop(): Promise<void>;
}

/** A bench child process and its IPC channel. */
export interface BenchChild {
  readonly child: ChildProcess;
  /** The next message of this type; rejects on an `error` message or when the child exits first. */
  next<T>(type: string): Promise<T>;
  /** Asks the child to stop ({ type: 'stop' }) and waits for its exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/**
 * Forks `<name>.js` from `childDir` under plain node when given (the bench, see build.ts: compiled
 * code), else bench/<name>.ts under tsx on the sources (tests). BENCH_PROFILE=<dir> adds
 * --cpu-prof, writing a .cpuprofile there when the child exits. `env` is added to this process's.
 */
export function forkBenchChild(name: string, args: string[], childDir?: string, env: NodeJS.ProcessEnv = {}): BenchChild {
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const script = childDir ? join(childDir, `${name}.js`) : fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const child: ChildProcess = fork(script, args, {
    execArgv: [...(childDir ? [] : ['--import', 'tsx']), '--expose-gc', ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: { type: string; message?: string }): void => {
        if (message.type === 'error') reject(new Error(message.message));
        else if (message.type === type) resolve(message as T);
        else return;
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onExit = (code: number | null): void => reject(new Error(`${name} exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send({ type: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { child, next, stop };
}

/** Starts the proxy child for `mode` (see forkBenchChild for where it runs from; `env` e.g. BENCH_DIST). */
export async function startProxyProcess(mode: string, target: BenchTarget, childDir?: string, env?: NodeJS.ProcessEnv): Promise<ProxyProcess> {
  const { child, next, stop } = forkBenchChild('proxy-child', [mode], childDir, env);
  type Ready = { port: number; caPem: string; proxyAuthorization?: string; headers?: Record<string, string>; transparent?: boolean };
  const ready = next<Ready>('ready');
  child.send({ type: 'start', target });
  const { port, caPem, proxyAuthorization, headers, transparent } = await ready;
  return {
    port,
    caPem,
    proxyAuthorization,
    headers,
    transparent: transparent === true,
    stats: async (options = {}) => {
      const reply = next<ProxyStats>('stats');
      child.send({ type: 'stats', gc: options.gc ?? false });
      return reply;
    },
    stop,
  };
}
