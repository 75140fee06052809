import type { AddressInfo } from 'node:net';
import type { FrozenConfig } from '../config/schema.js';
import { createLogger, type Logger } from '../log/logger.js';
import { formatAddress, splitListen } from '../config/listen-address.js';
import { buildAdminApp } from '../api/app.js';
import { createMetrics } from '../metrics/index.js';
import { loadOrCreateMasterKey } from '../secrets/crypto.js';
import { EnvelopeCipher, MasterKeyWrapper } from '../secrets/envelope.js';
import { startExpirySweep } from '../store/expiry-sweep.js';
import { openPgStore } from '../store/postgres/index.js';
import { ChangeFeed } from './change-feed.js';
import { startPartitionRetention } from './partition-retention.js';

/** A running control-plane replica: the admin API on PostgreSQL, no proxy. */
export interface ControlPlane {
  readonly adminAddress: string;
  readonly apiKey: string;
  close(): Promise<void>;
}

/**
 * `serve --role control`: the admin API (same routes and wire format as the single daemon) over
 * PostgreSQL (agents API included), plus the /fleet/ routes sidecars call. Replicas keep no state of their own: any
 * number can run behind a load balancer, each hearing of changes through LISTEN/NOTIFY.
 */
export async function createControlPlane(config: FrozenConfig, options: { logger?: Logger } = {}): Promise<ControlPlane> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const url = config.fleet.databaseUrl!;
  const apiKey = config.admin.apiKey!;
  const envelope = new EnvelopeCipher(new MasterKeyWrapper(loadOrCreateMasterKey(config)));
  const store = await openPgStore({ url, poolSize: config.fleet.databasePoolSize, envelope, retentionDays: config.audit.retentionDays });
  const feed = new ChangeFeed({ url, pool: store.pool, logger });
  const retention = startPartitionRetention(store, { logger });
  const expirySweep = startExpirySweep(store.sandboxes, { logger });
  const metrics = createMetrics();
  try {
    await feed.start();
    const [proxyHost, proxyPort] = splitListen(config.proxy.listen);
    const sandboxEnv = {
      proxyUrl: config.sandbox.proxyUrl ?? `http://${formatAddress({ address: proxyHost, port: proxyPort }, true)}`,
      caPath: config.sandbox.caPath ?? '/etc/credproxy/ca-bundle.pem',
      // The sidecars write the kit (same build, agents included); the sandboxes mount it at kitPath.
      ...(config.sandbox.kitPath ? { kit: { path: config.sandbox.kitPath, agents: true } } : {}),
    };
    const app = buildAdminApp({
      config,
      logger: logger.child({ component: 'admin' }),
      apiKey,
      metrics: metrics.registry,
      controlPlane: { store, sandboxEnv },
      fleet: { store, envelope, feed, heartbeatMs: config.fleet.heartbeatMs },
    });
    const [host, port] = splitListen(config.admin.listen);
    await app.listen({ host, port });
    const adminAddress = formatAddress(app.server.address() as AddressInfo);
    logger.child({}, { level: 'info' }).info({ role: 'control', admin: adminAddress }, 'ready');
    let closing: Promise<void> | undefined;
    return {
      adminAddress,
      apiKey,
      close: () =>
        (closing ??= (async () => {
          // Open change streams never end on their own; close them so app.close() does not wait.
          app.server.closeAllConnections();
          await app.close();
          retention.stop();
          expirySweep.stop();
          await feed.close();
          await store.close();
        })()),
    };
  } catch (err) {
    retention.stop();
    expirySweep.stop();
    await feed.close();
    await store.close();
    throw err;
  }
}
