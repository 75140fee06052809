import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchTarget } from './proxy-modes.js';

export interface ProxyStats {
  /** User + system CPU time since the child started, µs: every thread. */
  cpuUs: number;
  /**
   * CPU time of the main thread alone, µs: the event loop, which bounds a Node proxy's throughput.
   * Undefined where /proc/thread-self/schedstat is not available (Linux only).
   */
  eventLoopCpuUs: number | undefined;
  rss: number;
  /** V8 heap in use plus Buffers: what the process still holds. */
  live: number;
}

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

/**
 * Starts the proxy child for `mode`: `<childDir>/proxy-child.js` under plain node when given (the
 * bench, see build.ts: compiled code), else bench/proxy-child.ts under tsx on the sources (tests).
 * BENCH_PROFILE=<dir> adds --cpu-prof, writing a .cpuprofile there when the child exits.
 */
export async function startProxyProcess(mode: string, target: BenchTarget, childDir?: string): Promise<ProxyProcess> {
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const script = childDir ? join(childDir, 'proxy-child.js') : fileURLToPath(new URL('./proxy-child.ts', import.meta.url));
  const child: ChildProcess = fork(script, [mode], {
    execArgv: [...(childDir ? [] : ['--import', 'tsx']), '--expose-gc', ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(type: string): Promise<T> => new Promise((resolve, reject) => {
    const onMessage = (message: { type: string; message?: string }): void => {
      if (message.type === 'error') reject(new Error(message.message));
      else if (message.type === type) resolve(message as T);
      else return;
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onExit = (code: number | null): void => reject(new Error(`proxy child exited with ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
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
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
