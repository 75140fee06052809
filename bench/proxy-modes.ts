import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { Proxy as MitmProxy } from 'http-mitm-proxy';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { ProxyEvents } from '../src/proxy/events.js';
import { PASS_THROUGH_POLICY, type ProxyPolicy } from '../src/proxy/policy.js';
import { ProxyServer } from '../src/proxy/server.js';
import { LeafCertStore, loadOrCreateCa } from '../src/tls/index.js';

/** What a benchmarked proxy child needs to know: the upstream, reachable as `host`. */
export interface BenchTarget {
  /** Host name clients use, e.g. api.bench.test (never resolved through DNS). */
  host: string;
  upstreamPort: number;
  upstreamCaPath: string;
  /** Scratch directory for the proxy's CA. */
  dir: string;
}

export interface BenchProxy {
  port: number;
  /** The CA the load generator must trust. */
  caPem: string;
  close(): Promise<void>;
}

/** Builds one proxy under test; add a mode to compare another configuration. */
export type ProxyFactory = (target: BenchTarget) => Promise<BenchProxy>;

/** credproxy's data plane with a given policy (pass-through = no credential rules). */
export function credproxyMode(policy: ProxyPolicy = PASS_THROUGH_POLICY): ProxyFactory {
  return async (target) => {
    const config = loadConfig({
      env: {},
      cwd: target.dir,
      flags: {
        'proxy.listen': '127.0.0.1:0',
        // Every name on :443 reaches the upstream, so the bench can also time first requests to new hosts.
        'upstream.resolve': [`*:443=127.0.0.1:${target.upstreamPort}`],
        'upstream.caFile': target.upstreamCaPath,
      },
    });
    const ca = await loadOrCreateCa({ certPath: join(target.dir, 'ca.crt'), keyPath: join(target.dir, 'ca.key') });
    const proxy = new ProxyServer({
      config, policy, events: new ProxyEvents(), certs: await LeafCertStore.create(ca),
      logger: createLogger({ level: 'warn', destination: process.stderr }), protectedAddresses: () => [],
    });
    const address = await proxy.listen();
    return { port: address.port, caPem: ca.certPem, close: () => proxy.close() };
  };
}

/** http-mitm-proxy with keep-alive agents: the baseline a hand-rolled MITM proxy is compared with. */
export const mitmMode: ProxyFactory = async (target) => {
  const proxy = new MitmProxy();
  const sslCaDir = join(target.dir, 'mitm-ca');
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

/** Modes the child accepts by name (`node bench/proxy-child.ts <mode>`). */
export const PROXY_MODES: Readonly<Record<string, ProxyFactory>> = {
  credproxy: credproxyMode(),
  'http-mitm-proxy': mitmMode,
};
