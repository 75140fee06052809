import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FrozenConfig } from '../config/schema.js';
import { createLogger, type Logger } from '../log/logger.js';
import { formatAddress, splitListen } from '../config/listen-address.js';
import { ProxyEvents } from '../proxy/events.js';
import { ProxyServer } from '../proxy/server.js';
import { RuleTable, StandInPolicy } from '../rules/index.js';
import { prepareSandboxKit } from '../kit/index.js';
import { prepareProxyTls } from '../tls/index.js';
import { loadOrCreateApiKey } from '../secrets/key-files.js';
import { SealedBoxKeyPair } from '../secrets/sealed-box.js';
import { DATABASE_FILE, holdingDataDir, openDatabase } from '../store/index.js';
import { buildAdminApp } from '../api/app.js';
import { createMetrics, subscribeMetrics } from '../metrics/index.js';
import { AuditQueue, startRetention, subscribeAudit, WorkerAuditSink } from '../audit/index.js';
import { BundleRuleSource } from './bundle-source.js';
import { ControlClient } from './control-client.js';
import { BundleFollower } from './follower.js';
import { FreshnessPolicy } from './freshness-policy.js';
import { OutboxShipper } from './outbox.js';

/** A running sidecar: the proxy on a bundle from the control plane, and a small admin listener. */
export interface Sidecar {
  readonly proxyAddress: string;
  readonly adminAddress: string;
  readonly caPath: string;
  /** Ships the audit outbox now (tests, shutdown). */
  shipAudit(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `serve --role sidecar`: the proxy exactly as in the single daemon, but its rule table is fed
 * by a bundle from the control plane (sealed to a key pair made at start and kept in memory),
 * kept current by the change stream. No secret is ever written to this sidecar's disk: its
 * SQLite database holds only the audit outbox. The admin listener serves /healthz, /ca.pem
 * and /metrics; secrets and sandboxes are managed on the control plane.
 */
export function createSidecar(config: FrozenConfig, options: { logger?: Logger } = {}): Promise<Sidecar> {
  return holdingDataDir(config.dataDir, () => startSidecar(config, options));
}

async function startSidecar(config: FrozenConfig, options: { logger?: Logger }): Promise<Sidecar> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const events = new ProxyEvents();
  const { ca, certs, bundlePem } = await prepareProxyTls(config, {
    logger,
    onLookup: (result) => events.emit('certCache', result),
    onMint: (result) => events.emit('certMint', result),
  });
  // The sandbox beside this sidecar mounts the kit; the control plane hands out its variables.
  await prepareSandboxKit(config, bundlePem, logger);

  const source = new BundleRuleSource();
  const rules = new RuleTable(source);
  const freshness = new FreshnessPolicy(new StandInPolicy(rules, { requireAuth: config.proxy.requireAuth }), { maxAgeMs: config.fleet.maxBundleAgeMs });
  const client = new ControlClient({
    controlUrl: config.fleet.controlUrl!,
    token: config.fleet.sidecarToken!,
    keys: new SealedBoxKeyPair(),
    // A stream silent for this long is dead: the control plane heartbeats far more often.
    streamIdleMs: Math.max(1_000, Math.min(config.fleet.maxBundleAgeMs, 60_000)),
  });
  const follower = new BundleFollower({ client, source, rules, freshness, logger: logger.child({ component: 'fleet' }) });

  const db = openDatabase(join(config.dataDir, DATABASE_FILE));
  const auditSink = new WorkerAuditSink({ path: db.name, logger });
  const queue = new AuditQueue(auditSink, { config, logger });
  subscribeAudit(events, queue);
  const retention = startRetention(auditSink, { config, logger });
  const outbox = new OutboxShipper({ db, dataDir: config.dataDir, client, logger, intervalMs: config.fleet.shipIntervalMs });
  const metrics = createMetrics({
    auditQueue: queue,
    sidecar: {
      get bundleAgeSeconds() {
        return freshness.ageMs / 1000;
      },
      get outboxRows() {
        return outbox.pending;
      },
    },
  });
  subscribeMetrics(events, metrics);

  let adminBound: AddressInfo | undefined;
  const proxy = new ProxyServer({ config, logger, policy: freshness, certs, events, protectedAddresses: () => (adminBound ? [adminBound] : []) });
  const app = buildAdminApp({
    config,
    logger: logger.child({ component: 'admin' }),
    apiKey: await loadOrCreateApiKey(config),
    caCertPem: ca.certPem,
    metrics: metrics.registry,
  });

  let closing: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    await Promise.allSettled([proxy.close(), app.close(), follower.close()]);
    retention.stop();
    queue.close();
    await auditSink.close();
    // What the last requests wrote, if the control plane takes it; the rest ships after restart.
    await Promise.race([outbox.ship(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    await outbox.close();
    await client.close();
    if (db.open) db.close();
  };
  try {
    follower.start();
    const proxyAddress = formatAddress(await proxy.listen());
    const transparent = proxy.transparentAddresses();
    const [adminHost, adminPort] = splitListen(config.admin.listen);
    await app.listen({ host: adminHost, port: adminPort });
    adminBound = app.server.address() as AddressInfo;
    const adminAddress = formatAddress(adminBound);
    await auditSink.ready;
    // Ready means serving: with the first bundle in, or failing closed (policy_unavailable) until it is.
    await Promise.race([follower.loaded, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    logger.child({}, { level: 'info' }).info(
      {
        role: 'sidecar',
        proxy: proxyAddress,
        admin: adminAddress,
        ca: ca.certPath,
        sandboxes: source.sandboxCount,
        ...(transparent.https && { transparentHttps: formatAddress(transparent.https) }),
        ...(transparent.http && { transparentHttp: formatAddress(transparent.http) }),
      },
      'ready',
    );
    return {
      proxyAddress,
      adminAddress,
      caPath: ca.certPath,
      shipAudit: () => outbox.ship(),
      close: () => (closing ??= shutdown()),
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
