import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from '../../../src/api/app.js';
import { createLogger } from '../../../src/log/logger.js';
import { SecretCipher } from '../../../src/secrets/crypto.js';
import { openStore, type Store } from '../../../src/store/index.js';
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

/** Starts the admin app on 127.0.0.1:0 with its own data dir, closed after the test `t`. */
export function startAdmin(
  t: { after: (fn: () => Promise<void>) => void },
  extraRoutes?: ReadonlyArray<(app: FastifyInstance) => void | Promise<void>>,
): Promise<AdminHarness> {
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
      store,
      sandboxEnv: SANDBOX_ENV,
      ...(extraRoutes && { extraRoutes }),
    });
    teardown.add(() => app.close());
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => teardown.close());
    return { url, store, dataDir, logs, call: adminClient(() => url, API_KEY).call };
  });
}
