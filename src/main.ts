import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';
import type { ConfigOrigins } from './config/load.js';
import type { FrozenConfig } from './config/schema.js';
import { formatAddress, splitListen } from './config/listen-address.js';
import { ConfigError, describeSystemError, ListenError } from './errors.js';
import { createLogger, type Logger } from './log/logger.js';
import { ProxyEvents } from './proxy/events.js';
import { ProxyServer } from './proxy/server.js';
import { prepareProxyTls, readPemCertificates } from './tls/index.js';
import { prepareSandboxKit } from './kit/index.js';
import { loadOrCreateMasterKey, SecretCipher } from './secrets/crypto.js';
import { loadOrCreateApiKey } from './secrets/key-files.js';
import { lockDataDir, openStore, type Store } from './store/index.js';
import { startExpirySweep } from './store/expiry-sweep.js';
import { RuleTable, StandInPolicy } from './rules/index.js';
import { buildAdminApp } from './api/app.js';
import { buildMetricsApp } from './api/metrics-app.js';
import { createMetrics, subscribeMetrics } from './metrics/index.js';
import { AuditQueue, startRetention, subscribeAudit, WorkerAuditSink } from './audit/index.js';

export type { FrozenConfig } from './config/schema.js';
export { loadConfig, resolveConfig, type ConfigOrigins } from './config/load.js';

/** A running credproxy: both listeners bound, CA and state loaded. */
export interface Daemon {
  /** Bound proxy address as host:port ([v6]:port for IPv6). */
  readonly proxyAddress: string;
  /** Bound transparent listeners as host:port, when configured (transparent.https / transparent.http). */
  readonly transparentHttpsAddress: string | undefined;
  readonly transparentHttpAddress: string | undefined;
  /** Bound admin API address as host:port. */
  readonly adminAddress: string;
  /** Bound `metrics.listen` address as host:port, when configured. */
  readonly metricsAddress: string | undefined;
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
  /** Internal, for tests: how often expired sandboxes are deleted. Default 10 s. */
  expirySweepMs?: number;
  /** Where the configuration came from (resolveConfig): logged at start, named in listen errors. */
  origins?: ConfigOrigins;
  /**
   * Aborting it before the ready line (SIGTERM during start-up) stops the start: whatever was
   * opened is closed and createDaemon rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/**
 * Wires every boundary together; the only module that knows them all. Resolves once both
 * listeners accept connections, after writing the `ready` log line. Start-up failures a person
 * must fix (a path that cannot be used, an address that cannot be bound) reject with a
 * ConfigError or ListenError naming the key.
 * Holds the data dir's lock (store/data-dir-lock.ts) until closed: a second daemon on the same
 * data dir is refused.
 */
export async function createDaemon(config: FrozenConfig, options: DaemonOptions = {}): Promise<Daemon> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const { signal, origins } = options;
  if (origins) logOrigins(logger, origins);
  /** Listeners, closed together first (the proxy drains its requests in flight). */
  const listeners: Array<() => unknown> = [];
  /** Everything else, closed one by one in the reverse order it was opened. */
  const teardown: Array<() => unknown> = [];

  try {
    const paths: ReadonlyArray<readonly [string, string]> = [
      ['dataDir', config.dataDir],
      ['ca.cert', config.ca.cert],
      ['ca.key', config.ca.key],
    ];
    const events = new ProxyEvents();
    const { ca, bundlePath, bundlePem, certs, cipher, apiKey } = await withPathKeys(paths, async () => ({
      ...(await prepareProxyTls(config, {
        logger,
        onLookup: (result) => events.emit('certCache', result),
        onMint: (result) => events.emit('certMint', result),
      })),
      cipher: new SecretCipher(await loadOrCreateMasterKey(config)),
      apiKey: await loadOrCreateApiKey(config),
    }));
    if (config.upstream.caFile) await checkUpstreamRoots(config.upstream.caFile);
    const kit = await prepareSandboxKit(config, bundlePem, logger);
    signal?.throwIfAborted();

    // Before the database: two daemons on one data dir would keep two rule tables.
    const lock = lockDataDir(config.dataDir);
    teardown.push(() => lock.release());
    const store = openStoreIn(config.dataDir, cipher);
    teardown.push(() => store.close());
    signal?.throwIfAborted();

    const rules = new RuleTable(store.ruleSource);
    store.onChange((change) => rules.apply(change));
    const policy = new StandInPolicy(rules, { requireAuth: config.proxy.requireAuth });
    const expirySweep = startExpirySweep(store.sandboxes, { logger, intervalMs: options.expirySweepMs });
    teardown.push(() => expirySweep.stop());

    // Audit rows are written on a worker thread with its own connection: the proxy's thread never waits on SQLite.
    const auditSink = new WorkerAuditSink({ path: store.db.name, logger });
    teardown.push(() => auditSink.close());
    const queue = new AuditQueue(auditSink, { config, logger });
    teardown.push(() => queue.close());
    const observe = options.observe ?? true;
    if (observe) subscribeAudit(events, queue);
    const retention = startRetention(auditSink, { config, logger, intervalMs: options.retentionIntervalMs });
    teardown.push(() => retention.stop());
    // What /readyz and credproxy_ready{check} report; read only once the listeners are up.
    const readiness = () => ({ proxy: proxy.accepting, audit: auditSink.alive });
    const metrics = createMetrics({ auditQueue: queue, readiness });
    if (observe) subscribeMetrics(events, metrics);

    /** The admin and metrics listeners, never reachable through the proxy. */
    const ownListeners: AddressInfo[] = [];
    const proxy = new ProxyServer({
      config,
      logger,
      policy,
      certs,
      events,
      protectedAddresses: () => ownListeners,
    });

    const proxyBound = await listening(config, origins, config.proxy.listen, () => proxy.listen());
    listeners.push(() => proxy.close());
    const proxyAddress = formatAddress(proxyBound);
    const transparent = proxy.transparentAddresses();
    const transparentHttpsAddress = transparent.https && formatAddress(transparent.https);
    const transparentHttpAddress = transparent.http && formatAddress(transparent.http);

    const sandboxEnv = {
      proxyUrl: config.sandbox.proxyUrl ?? `http://${formatAddress(proxyBound, true)}`,
      caPath: config.sandbox.caPath ?? bundlePath,
      ...(kit ? { kit } : {}),
    };
    const app = buildAdminApp({
      config,
      logger: logger.child({ component: 'admin' }),
      apiKey,
      caCertPem: ca.certPem,
      metrics: metrics.registry,
      readiness,
      controlPlane: { store, sandboxEnv },
    });
    const [adminHost, adminPort] = splitListen(config.admin.listen);
    await listening(config, origins, config.admin.listen, () => app.listen({ host: adminHost, port: adminPort }));
    listeners.push(() => app.close());
    const adminBound = app.server.address() as AddressInfo;
    ownListeners.push(adminBound);
    const adminAddress = formatAddress(adminBound);
    let metricsAddress: string | undefined;
    if (config.metrics.listen) {
      const metricsApp = buildMetricsApp({ config, logger: logger.child({ component: 'metrics' }), registry: metrics.registry, readiness });
      const [host, port] = splitListen(config.metrics.listen);
      await listening(config, origins, config.metrics.listen, () => metricsApp.listen({ host, port }));
      listeners.push(() => metricsApp.close());
      const bound = metricsApp.server.address() as AddressInfo;
      ownListeners.push(bound);
      metricsAddress = formatAddress(bound);
    }
    await auditSink.ready;
    signal?.throwIfAborted();

    // The ready line is part of the contract, so it is written whatever log.level says.
    logger.child({}, { level: 'info' }).info(
      {
        proxy: proxyAddress,
        admin: adminAddress,
        ca: ca.certPath,
        ...(transparentHttpsAddress && { transparentHttps: transparentHttpsAddress }),
        ...(transparentHttpAddress && { transparentHttp: transparentHttpAddress }),
        ...(metricsAddress && { metrics: metricsAddress }),
      },
      'ready',
    );

    let closing: Promise<void> | undefined;
    return {
      proxyAddress,
      transparentHttpsAddress,
      transparentHttpAddress,
      adminAddress,
      metricsAddress,
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
    await Promise.allSettled(listeners.map((close) => close()));
    for (const close of teardown.splice(0).reverse()) await close();
  }
}

/** One line saying which keys were set and where, and a warning for each value taken over. */
function logOrigins(logger: Logger, origins: ConfigOrigins): void {
  logger.info({ file: origins.file ?? null, from: Object.fromEntries(origins.keys) }, 'configuration');
  for (const { key, by, over } of origins.overridden) {
    logger.warn({ key, from: by, over }, `${key} from ${over} is overridden by ${by} (flags > environment > file)`);
  }
}

/**
 * Runs a start-up step that reads or writes the paths given; a system error on one of them
 * becomes a ConfigError naming its key. A temporary file beside a target counts as the target.
 */
async function withPathKeys<T>(paths: ReadonlyArray<readonly [string, string]>, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.code !== 'string' || typeof e.path !== 'string') throw err;
    const at = e.path;
    const owner =
      paths.find(([, path]) => at === path || (dirname(at) === dirname(path) && basename(at).startsWith(`.${basename(path)}.`))) ??
      paths.find(([, path]) => at === dirname(path) || at.startsWith(`${path}/`) || path.startsWith(`${at}/`));
    if (owner === undefined) throw err;
    // A temporary file of an atomic write stands for its directory.
    const shown = /^\..*\.tmp$/.test(basename(at)) ? `write to ${dirname(at)}` : `use ${at}`;
    throw new ConfigError(owner[0], `cannot ${shown}: ${describeSystemError(e)}`);
  }
}

/** `upstream.caFile` must be readable and hold PEM certificates; found out at start, not on the first request. */
async function checkUpstreamRoots(path: string): Promise<void> {
  try {
    await readPemCertificates(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError('upstream.caFile', typeof e.code === 'string' ? `cannot read ${path}: ${describeSystemError(e)}` : e.message);
  }
}

/** The database, or a ConfigError on dataDir when SQLite cannot open or write it. */
function openStoreIn(dataDir: string, cipher: SecretCipher): Store {
  try {
    return openStore({ dataDir, cipher });
  } catch (err) {
    const e = err as { code?: unknown; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) throw new ConfigError('dataDir', `cannot open the database in ${dataDir}: ${e.message}`);
    throw err;
  }
}

/** Config keys of listeners, in the order they are bound. */
const LISTEN_KEYS = ['proxy.listen', 'transparent.https', 'transparent.http', 'admin.listen', 'metrics.listen'] as const;

/**
 * Binds listeners; a bind failure becomes a ListenError naming the key, address and cause. The
 * failing address is the error's `listen` (ProxyServer) or `fallback`.
 */
async function listening<T>(config: FrozenConfig, origins: ConfigOrigins | undefined, fallback: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { listen?: string };
    if (typeof e?.code !== 'string' || !['listen', 'bind', 'getaddrinfo'].includes(e.syscall ?? '')) throw err;
    const address = e.listen ?? fallback;
    const valueOf = (key: string): unknown => key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], config);
    const key = LISTEN_KEYS.find((k) => valueOf(k) === address) ?? 'proxy.listen';
    throw new ListenError(key, address, e, origins?.keys.get(key));
  }
}
