import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { buildAdminApp } from '../../../src/api/app.js';
import type { FrozenConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/log/logger.js';
import { ProxyEvents, type ConnectionEvent, type RequestEvent } from '../../../src/proxy/events.js';
import { PASS_THROUGH_POLICY, type ProxyPolicy } from '../../../src/proxy/policy.js';
import { ProxyServer } from '../../../src/proxy/server.js';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { createTestPki, type TestPki } from '../pki.js';
import { adminClient, type RawCall } from './admin-client.js';
import { harnessDir, starting } from './cleanup.js';
import { harnessConfig } from './daemon.js';
import { LogSink } from './logs.js';

export const API_KEY = 'test-admin-key-0123456789abcdef';
/** Not a certificate: the admin app only serves it back. */
export const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';
export const SANDBOX_ENV = { proxyUrl: 'http://127.0.0.1:18080', caPath: '/etc/credproxy/ca-bundle.pem' };

/** The admin API alone: its real listener over a real store, without the proxy or the daemon's wiring. */
export interface AdminHarness {
  readonly url: string;
  readonly store: Store;
  readonly dataDir: string;
  /** Every log line, at debug level. */
  readonly logs: LogSink;
  /** Calls the admin API with API_KEY, or with the headers given in its place. */
  readonly call: RawCall;
}

/**
 * Starts the admin app on 127.0.0.1:0 with its own data dir, closed after the test `t`.
 * `addRoutes` declares test-only routes on the built app before it listens.
 */
export function startAdmin(t: { after: (fn: () => Promise<void>) => void }, addRoutes?: (app: FastifyInstance) => void): Promise<AdminHarness> {
  return starting(async (teardown) => {
    const dir = harnessDir('api');
    const dataDir = join(dir, 'data');
    const config = harnessConfig(dir, { dataDir });
    const logs = new LogSink();
    const store = openStore({ dataDir, cipher: new SecretCipher(randomBytes(32)) });
    teardown.add(() => store.close());
    const app = buildAdminApp({
      config,
      logger: createLogger({ level: 'debug', destination: logs }),
      apiKey: API_KEY,
      caCertPem: CA_PEM,
      metrics: new Registry(),
      controlPlane: { store, sandboxEnv: SANDBOX_ENV },
    });
    teardown.add(() => app.close());
    addRoutes?.(app);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => teardown.close());
    return { url, store, dataDir, logs, call: adminClient(() => url, API_KEY).call };
  });
}

/** The proxy listener alone: a ProxyServer with its own CA and a policy the test gives, recording every event. */
export interface ProxyHarness {
  readonly proxy: ProxyServer;
  readonly port: number;
  readonly config: FrozenConfig;
  /** The proxy's CA: clients trust `pki.caPath` / `pki.ca.certPem`. */
  readonly pki: TestPki;
  readonly requests: RequestEvent[];
  readonly connections: ConnectionEvent[];
  readonly tunnels: Array<1 | -1>;
  /** Every log line, at debug level. */
  readonly logs: LogSink;
  close(): Promise<void>;
}

export interface ProxyHarnessOptions {
  /** Config values by dotted key, over loopback listeners. */
  flags?: Record<string, unknown>;
  policy?: ProxyPolicy;
  protectedAddresses?: () => ReadonlyArray<{ address: string; port: number }>;
}

/** Starts a ProxyServer on 127.0.0.1:0 (no store, no admin API); PASS_THROUGH_POLICY unless `policy` is given. */
export function startProxy(options: ProxyHarnessOptions = {}): Promise<ProxyHarness> {
  return starting(async (teardown) => {
    const config = harnessConfig(harnessDir('proxy'), options.flags);
    const pki = await createTestPki('proxy-ca');
    teardown.add(() => pki.remove());
    const logs = new LogSink();
    const events = new ProxyEvents();
    const requests: RequestEvent[] = [];
    const connections: ConnectionEvent[] = [];
    const tunnels: Array<1 | -1> = [];
    events.on('request', (e) => requests.push(e));
    events.on('connection', (e) => connections.push(e));
    events.on('tunnel', (e) => tunnels.push(e));
    const proxy = new ProxyServer({
      config,
      logger: createLogger({ level: 'debug', destination: logs }),
      events,
      certs: pki.certs,
      policy: options.policy ?? PASS_THROUGH_POLICY,
      protectedAddresses: options.protectedAddresses ?? (() => []),
    });
    const address = await proxy.listen();
    teardown.add(() => proxy.close());
    return { proxy, port: address.port, config, pki, requests, connections, tunnels, logs, close: () => teardown.close() };
  });
}
