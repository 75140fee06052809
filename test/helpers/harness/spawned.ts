import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnCli } from '../cli.js';

/** A `credproxy serve` subprocess with its stdout and stderr kept (for the canary checks). */
export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: { proxy?: string; admin: string; ca?: string; transparentHttps?: string };
  readonly output: () => string;
  /** SIGTERM and wait for exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash, nothing flushed. */
  kill(): Promise<void>;
}

/**
 * Starts `credproxy serve` with its state under `home` (serveEnv, then `env` over it) and `config`
 * (over debug logging) in home/config.yaml; resolves at its ready line.
 */
export async function spawnServe(home: string, config: Record<string, unknown>, env: Record<string, string>): Promise<ServeProcess> {
  mkdirSync(home, { recursive: true });
  const configPath = join(home, 'config.yaml');
  writeFileSync(configPath, stringify({ log: { level: 'debug' }, ...config }));
  const child = await spawnCli(['serve', '--config', configPath], { env: { ...serveEnv(home), ...env } });
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stdout.on('data', (c: Buffer | string) => (out += c.toString()));
  const ready = await readyLine(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitExit = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, ready, output: () => out, stop: () => waitExit('SIGTERM'), kill: () => waitExit('SIGKILL') };
}

/** Env for `credproxy serve` in `dir`: both listeners on free loopback ports, state and CA under `dir`. */
export function serveEnv(dir: string): Record<string, string> {
  return {
    CREDPROXY_PROXY_LISTEN: '127.0.0.1:0',
    CREDPROXY_ADMIN_LISTEN: '127.0.0.1:0',
    CREDPROXY_DATA_DIR: join(dir, 'data'),
    CREDPROXY_CA_CERT: join(dir, 'certs', 'ca.crt'),
    CREDPROXY_CA_KEY: join(dir, 'certs', 'ca.key'),
  };
}

/** Reads child stdout until the `ready` line; rejects on exit or after 15 s. */
export function readyLine(child: ChildProcessWithoutNullStreams): Promise<{ proxy: string; admin: string; ca: string }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no ready line in 15 s: ${buffered}`)), 15_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        if (!line.startsWith('{')) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // a line still being written
        }
        if (entry.msg === 'ready') {
          clearTimeout(timer);
          resolve(entry as unknown as { proxy: string; admin: string; ca: string });
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before ready: ${buffered}`));
    });
  });
}
