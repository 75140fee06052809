import { openSync, writeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { Proxy as MitmProxy } from 'http-mitm-proxy';
import { request } from 'undici';
import type * as Main from '../src/main.js';
import type * as Log from '../src/log/logger.js';
import { dist } from './dist.js';
import type { UntypedJson } from '../test/helpers/harness/index.js';

/** What a benchmarked proxy child needs to know: the upstream, reachable as `host`. */
export interface BenchTarget {
  /** Host name clients use, e.g. api.bench.test (never resolved through DNS). */
  host: string;
  upstreamPort: number;
  upstreamCaPath: string;
  /** Scratch directory for the proxy's data and CA. */
  dir: string;
}

export interface BenchProxy {
  port: number;
  /** The CA the load generator must trust. */
  caPem: string;
  /** Proxy-Authorization the load generator sends on CONNECT (the sandbox's access token). */
  proxyAuthorization?: string;
  /** Headers every request carries: the stand-in in the injection modes, else PASS_THROUGH_HEADERS. */
  headers?: Readonly<Record<string, string>>;
  /** `port` is a transparent listener: clients connect to it straight, the host in SNI (as a kernel redirect delivers them). */
  transparent?: boolean;
  close(): Promise<void>;
}

/** Builds one proxy under test; add a mode to compare another configuration. */
export type ProxyFactory = (target: BenchTarget) => Promise<BenchProxy>;

export interface DaemonModeOptions {
  /** Every request carries a stand-in that the real StandInPolicy swaps for the real value. */
  inject: boolean;
  /** Audit queue → SQLite and prom-client metrics subscribed to the proxy's events, as in production. */
  observe: boolean;
  /** Load goes to transparent.https (bound to the bench sandbox) instead of CONNECT on the proxy port. */
  transparent?: boolean;
}

/**
 * The Authorization every request carries when nothing is swapped (direct, the plain proxied case,
 * http-mitm-proxy): a key as long as the bench's stand-ins that is not one, so every case sends the
 * same request and the injection modes differ only by the lookup and the swap.
 */
export const PASS_THROUGH_HEADERS: Readonly<Record<string, string>> = { authorization: `Bearer sk-bench-${'k'.repeat(38)}` };

/** A few bindings, like a real sandbox; requests use the first one. */
const SECRETS = ['openai', 'anthropic', 'github', 'internal'];

/**
 * The daemon's config for a bench: both listeners on free ports, the data dir in `target.dir`, and
 * every name on :443 routed to the upstream (so the bench can also time first requests to new hosts).
 */
export async function benchConfig(target: BenchTarget, flags: Record<string, unknown>): Promise<Main.FrozenConfig> {
  const { loadConfig } = await dist<typeof Main>('main.js');
  return loadConfig({
    env: {},
    cwd: target.dir,
    flags: {
      'proxy.listen': '127.0.0.1:0',
      'admin.listen': '127.0.0.1:0',
      'upstream.resolve': [`*:443=127.0.0.1:${target.upstreamPort}`],
      'upstream.caFile': target.upstreamCaPath,
      ...flags,
    },
  });
}

/**
 * The real daemon (createDaemon from dist/) on a scratch data dir, with a sandbox holding a few
 * bindings created through the admin API. Requests authenticate as that sandbox in every mode, so
 * the modes differ only in the stand-in header and in the observers.
 */
export function daemonMode(options: DaemonModeOptions): ProxyFactory {
  return async (target) => {
    const { createDaemon } = await dist<typeof Main>('main.js');
    const { createLogger } = await dist<typeof Log>('log/logger.js');
    const config = await benchConfig(target, {
      'log.level': 'warn',
      // The bench always authenticates as its sandbox; tests also drive the plain mode without credentials.
      'proxy.requireAuth': false,
      ...(options.transparent ? { 'transparent.https': '127.0.0.1:0', 'transparent.sandbox': 'bench' } : {}),
    });
    // The production wiring logs at info: one access line per request, written synchronously as
    // pino does to stdout (here one write(2) to /dev/null each). Warnings and errors reach stderr.
    const devNull = options.observe ? openSync('/dev/null', 'w') : undefined;
    const destination = {
      write: (line: string) => void (!line.includes('"level":"info"') ? process.stderr.write(line) : devNull !== undefined && writeSync(devNull, line)),
    };
    const logger = createLogger({ level: options.observe ? 'info' : 'warn', destination });
    const daemon = await createDaemon(config, { logger, observe: options.observe });
    const api = async (path: string, body: unknown): Promise<UntypedJson> => {
      const res = await request(`http://${daemon.adminAddress}${path}`, {
        method: 'POST',
        headers: { 'x-api-key': daemon.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = await res.body.json();
      if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${JSON.stringify(json)}`);
      return json;
    };
    for (const [i, name] of SECRETS.entries()) {
      await api('/secrets', { name, value: `real-${name}-${'x'.repeat(40)}`, auth: { type: 'bearer' }, hosts: [i === 0 ? target.host : `api.${name}.test`] });
    }
    const sandbox = await api('/sandboxes', { name: 'bench', secrets: Object.fromEntries(SECRETS.map((s) => [`${s.toUpperCase()}_KEY`, s])) });
    const address = options.transparent ? daemon.transparentHttpsAddress! : daemon.proxyAddress;
    return {
      port: Number(address.slice(address.lastIndexOf(':') + 1)),
      transparent: options.transparent,
      caPem: await readFile(daemon.caPath, 'utf8'),
      proxyAuthorization: `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}`,
      headers: options.inject ? { authorization: `Bearer ${sandbox.env.OPENAI_KEY}` } : PASS_THROUGH_HEADERS,
      close: () => daemon.close(),
    };
  };
}

/** http-mitm-proxy with keep-alive agents: the baseline a hand-rolled MITM proxy is compared with. */
export const mitmMode: ProxyFactory = async (target) => {
  const proxy = new MitmProxy();
  const sslCaDir = join(target.dir, 'mitm-ca');
  await mkdir(sslCaDir, { recursive: true });
  const httpsAgent = new HttpsAgent({ keepAlive: true, ca: await readFile(target.upstreamCaPath, 'utf8') });
  proxy.onError(() => undefined);
  proxy.onRequest((ctx, callback) => {
    // The same routing credproxy gets from upstream.resolve: the name stays in Host and SNI.
    const options = ctx.proxyToServerRequestOptions!;
    if (options.host === target.host) {
      options.host = '127.0.0.1';
      options.port = target.upstreamPort;
    }
    callback();
  });
  await new Promise<void>((resolve) => proxy.listen({ host: '127.0.0.1', port: 0, sslCaDir, keepAlive: true, httpsAgent }, () => resolve()));
  const port = (proxy.httpServer!.address() as import('node:net').AddressInfo).port;
  return {
    port,
    caPem: await readFile(join(sslCaDir, 'certs', 'ca.pem'), 'utf8'),
    close: async () => {
      proxy.close();
    },
  };
};

/** Modes the child accepts by name (`node proxy-child.js <mode>`), in the order the bench runs them. */
export const PROXY_MODES: Readonly<Record<string, ProxyFactory>> = {
  credproxy: daemonMode({ inject: false, observe: false }),
  'credproxy+inject': daemonMode({ inject: true, observe: false }),
  'credproxy+audit+metrics': daemonMode({ inject: true, observe: true }),
  // The production wiring again, reached the transparent way: paired against the row above.
  'credproxy+transparent': daemonMode({ inject: true, observe: true, transparent: true }),
  'http-mitm-proxy': mitmMode,
};
