import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchTarget } from './proxy-modes.js';

const CHILD = fileURLToPath(new URL('./proxy-child.ts', import.meta.url));

export interface ProxyStats {
  /** User + system CPU time since the child started, µs. */
  cpuUs: number;
  rss: number;
  /** V8 heap in use plus Buffers: what the process still holds. */
  live: number;
}

/** A proxy running alone in a child process (bench/proxy-child.ts), driven over IPC. */
export interface ProxyProcess {
  readonly port: number;
  readonly caPem: string;
  stats(options?: { gc?: boolean }): Promise<ProxyStats>;
  stop(): Promise<void>;
}

export async function startProxyProcess(mode: string, target: BenchTarget): Promise<ProxyProcess> {
  const child: ChildProcess = fork(CHILD, [mode], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
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
  const ready = next<{ port: number; caPem: string }>('ready');
  child.send({ type: 'start', target });
  const { port, caPem } = await ready;
  return {
    port,
    caPem,
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
