import type { AddressInfo } from 'node:net';
import type { FrozenConfig } from './config/schema.js';
import { createLogger, type Logger } from './log/logger.js';
import { ProxyEvents } from './proxy/events.js';
import { ProxyServer } from './proxy/server.js';
import { prepareProxyTls } from './tls/index.js';
import { loadOrCreateMasterKey, SecretCipher } from './secrets/crypto.js';
import { loadOrCreateApiKey } from './secrets/key-files.js';
import { openStore } from './store/index.js';
import { EventsRepository } from './store/events.js';
import { RuleTable, StandInPolicy } from './rules/index.js';
import { buildAdminApp } from './api/app.js';
import { auditRoutes } from './api/routes/audit.js';
import { networkRoutes } from './api/routes/network.js';
import { metricsRoute } from './api/routes/metrics.js';
import { agentsRoutes } from './api/routes/agents.js';
import { createMetrics, subscribeMetrics } from './metrics/index.js';
import { AuditQueue, startRetention, subscribeAudit, WorkerAuditSink } from './audit/index.js';

export type { FrozenConfig } from './config/schema.js';
export { loadConfig } from './config/load.js';

/** A running credproxy: both listeners bound, CA and state loaded. */
export interface Daemon {
  /** Bound proxy address as host:port ([v6]:port for IPv6). */
  readonly proxyAddress: string;
  /** Bound transparent listeners as host:port, when configured (transparent.https / transparent.http). */
  readonly transparentHttpsAddress: string | undefined;
  readonly transparentHttpAddress: string | undefined;
  /** Bound admin API address as host:port. */
  readonly adminAddress: string;
  /** Path of the CA certificate PEM. */
  readonly caPath: string;
  /** The admin API key in force (configured or generated). */
  readonly apiKey: string;
  /** Stop accepting, drain requests in flight (bounded), flush the audit log, close the database. */
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** Defaults to pino on stdout at config.log.level. */
  logger?: Logger;
  /**
   * Internal, for the benchmark's audit-off baseline: false leaves the audit queue and metrics
   * unsubscribed from the proxy's events (nothing is recorded). Default true.
   */
  observe?: boolean;
  /** Internal, for the benchmark: how often audit retention sweeps. Default 1 hour. */
  retentionIntervalMs?: number;
}

/**
 * Wires every boundary together; the only module that knows them all. Resolves once both
 * listeners accept connections, after writing the `ready` log line.
 */
export async function createDaemon(config: FrozenConfig, options: DaemonOptions = {}): Promise<Daemon> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const events = new ProxyEvents();
  const { ca, bundlePath, certs } = await prepareProxyTls(config, { logger, onLookup: (result) => events.emit('certCache', result) });

  const cipher = new SecretCipher(await loadOrCreateMasterKey(config));
  const apiKey = await loadOrCreateApiKey(config);
  const store = openStore({ dataDir: config.dataDir, cipher });

  const rules = new RuleTable(store.ruleSource);
  store.onChange((change) => rules.apply(change));
  const policy = new StandInPolicy(rules, { requireAuth: config.proxy.requireAuth });

  const eventRows = new EventsRepository(store.db);
  // Audit rows are written on a worker thread with its own connection: the proxy's thread never waits on SQLite.
  const auditSink = new WorkerAuditSink({ path: store.db.name, logger });
  const queue = new AuditQueue(auditSink, { config, logger });
  const observe = options.observe ?? true;
  if (observe) subscribeAudit(events, queue);
  const retention = startRetention(auditSink, { config, logger, intervalMs: options.retentionIntervalMs });
  const metrics = createMetrics({ auditQueue: queue });
  if (observe) subscribeMetrics(events, metrics);

  let adminBound: AddressInfo | undefined;
  const proxy = new ProxyServer({
    config,
    logger,
    policy,
    certs,
    events,
    protectedAddresses: () => (adminBound ? [adminBound] : []),
  });

  const closers: Array<() => unknown> = [];
  try {
    const proxyBound = await proxy.listen();
    closers.push(() => proxy.close());
    const proxyAddress = formatAddress(proxyBound);
    const transparent = proxy.transparentAddresses();
    const transparentHttpsAddress = transparent.https && formatAddress(transparent.https);
    const transparentHttpAddress = transparent.http && formatAddress(transparent.http);

    const sandboxEnv = {
      proxyUrl: config.sandbox.proxyUrl ?? `http://${formatAddress(proxyBound, true)}`,
      caPath: config.sandbox.caPath ?? bundlePath,
    };
    const app = buildAdminApp({
      config,
      logger: logger.child({ component: 'admin' }),
      apiKey,
      caCertPem: ca.certPem,
      store,
      sandboxEnv,
      extraRoutes: [
        auditRoutes({ events: eventRows, secretIdByName: (name) => store.secrets.getByName(name)?.id }),
        networkRoutes({ events: eventRows, sandboxExists: (id) => store.sandboxes.get(id) !== undefined }),
        metricsRoute({ registry: metrics.registry, requireAuth: config.admin.metricsAuth }),
        agentsRoutes({ store, cipher, sandboxEnv }),
      ],
    });
    const [adminHost, adminPort] = splitListen(config.admin.listen);
    await app.listen({ host: adminHost, port: adminPort });
    closers.unshift(() => app.close());
    adminBound = app.server.address() as AddressInfo;
    const adminAddress = formatAddress(adminBound);
    await auditSink.ready;

    // The ready line is part of the contract, so it is written whatever log.level says.
    logger.child({}, { level: 'info' }).info({
      proxy: proxyAddress, admin: adminAddress, ca: ca.certPath,
      ...(transparentHttpsAddress && { transparentHttps: transparentHttpsAddress }),
      ...(transparentHttpAddress && { transparentHttp: transparentHttpAddress }),
    }, 'ready');

    let closing: Promise<void> | undefined;
    return {
      proxyAddress,
      transparentHttpsAddress,
      transparentHttpAddress,
      adminAddress,
      caPath: ca.certPath,
      apiKey,
      close: () => (closing ??= shutdown()),
    };
  } catch (err) {
    await shutdown();
    throw err;
  }

  async function shutdown(): Promise<void> {
    // Listeners first (proxy drains in flight), then the audit rows those requests produced.
    await Promise.allSettled(closers.map((close) => close()));
    retention.stop();
    queue.close();
    await auditSink.close();
    store.close();
  }
}

/** Splits `host:port` / `[v6]:port` (already validated by the config schema). */
export function splitListen(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}

/** host:port for humans and clients; `forClients` shows a wildcard bind as loopback. */
export function formatAddress(address: AddressInfo, forClients = false): string {
  let host = address.address;
  if (forClients && (host === '0.0.0.0' || host === '::')) host = '127.0.0.1';
  return host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}
