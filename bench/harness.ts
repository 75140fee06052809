// Pieces every whole-daemon benchmark shares: the upstream child, a keep-alive client through a
// proxy, and one request that must answer 200.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ProxyAgent, request, type Dispatcher } from 'undici';

export interface Upstream {
  child: ChildProcess;
  port: number;
  caPath: string;
  /** The upstream process's CPU time so far. */
  cpuUs(): Promise<number>;
  stop(): void;
}

/** Starts upstream-child.js from `childDir` (see build.ts) with its scratch files in `dir`. */
export async function startUpstream(childDir: string, dir: string): Promise<Upstream> {
  const child = fork(join(childDir, 'upstream-child.js'), [dir], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number; caPath: string }>((resolve, reject) => {
    child.once('message', (m: { port: number; caPath: string }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  const cpuUs = (): Promise<number> =>
    new Promise((resolve) => {
      child.once('message', (m: { cpuUs: number }) => resolve(m.cpuUs));
      child.send({ type: 'stats' });
    });
  return { child, ...ready, cpuUs, stop: () => child.send({ type: 'stop' }) };
}

/** What a client needs to go through a proxy child. */
export interface ProxyEndpoint {
  readonly port: number;
  readonly caPem: string;
  /** Sent on CONNECT; undefined when the proxy needs none. */
  readonly proxyAuthorization: string | undefined;
}

/** A keep-alive client through the proxy with up to `connections` tunnels. */
export function proxyAgent(proxy: ProxyEndpoint, connections: number): ProxyAgent {
  return new ProxyAgent({ uri: `http://127.0.0.1:${proxy.port}`, token: proxy.proxyAuthorization, requestTls: { ca: proxy.caPem }, connections });
}

/** One GET whose body is read and dropped; anything but 200 throws. */
export async function once(dispatcher: Dispatcher, url: string, headers: Readonly<Record<string, string>>): Promise<void> {
  const res = await request(url, { dispatcher, headers });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
}
