import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECTIONS, type RejectionCode } from '../errors.js';
import type { ProxyEventMap, RequestEvent } from '../proxy/events.js';
import { LabeledCounter, type CounterChild } from './counter.js';
import { RequestHistogram } from './histogram.js';
import { VERSION } from '../version.js';

type Outcome = RequestEvent['outcome'];
type CertCacheResult = ProxyEventMap['certCache'];
type TlsFailureCause = ProxyEventMap['clientTlsFailure'];
/** An upstream status code's class, `Nxx`. */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

const OUTCOMES: readonly Outcome[] = ['forwarded', 'injected', 'rejected', 'upstream_error', 'client_aborted'];
const CERT_CACHE_RESULTS: readonly CertCacheResult[] = ['hit', 'miss', 'coalesced'];
const TLS_FAILURE_CAUSES: readonly TlsFailureCause[] = ['unknown_ca', 'timeout', 'closed', 'protocol', 'other'];
const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];
const DIRECTIONS = ['received', 'sent'] as const;
type Direction = (typeof DIRECTIONS)[number];

/** Client-view and upstream latency: LLM calls and streams run for minutes. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Leaf certificate mints: one CA signature, ≈ 1–10 ms; 1 ms to 1 s. */
const MINT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const MINT_ERRORS = ['invalid_name', 'failed'] as const;
type MintError = (typeof MINT_ERRORS)[number];
/** What `/readyz` checks, each exported as `credproxy_ready{check}`. */
export const READY_CHECKS = ['proxy', 'audit'] as const;
export type ReadyCheck = (typeof READY_CHECKS)[number];

/** Time the proxy adds: 50 µs to 100 ms. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

/** prom-client default metrics that break Prometheus naming rules (gauges with a `_total` suffix). */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** What the audit queue exposes to metrics; read at scrape time, never pushed. */
export interface AuditQueueStats {
  readonly depth: number;
  readonly dropped: number;
}

export interface MetricsOptions {
  /** Source of `credproxy_audit_queue_depth` / `credproxy_audit_dropped_total`; both read 0 without one. */
  auditQueue?: AuditQueueStats;
  /** Register prom-client's default process/Node.js metrics (standard names). Default true. */
  defaultMetrics?: boolean;
  /** A fleet sidecar's state: exports `credproxy_fleet_bundle_age_seconds` and `credproxy_fleet_outbox_rows`. */
  sidecar?: SidecarStats;
  /** Source of `credproxy_ready{check}`, read at scrape time (what /readyz answers); absent: not exported. */
  readiness?: () => Readonly<Record<ReadyCheck, boolean>>;
  /** `credproxy_build_info{version, node_version}`. Default: this build's version. */
  version?: string;
}

/** What a fleet sidecar reports (sidecar/index.ts). */
export interface SidecarStats {
  /** Seconds since the control plane was last heard from; +Inf before the first bundle. */
  readonly bundleAgeSeconds: number;
  /** Audit rows in the local outbox, not yet acknowledged by the control plane. */
  readonly outboxRows: number;
}

/**
 * Every metric credproxy exports, on its own Registry (never prom-client's global one). Label sets
 * that come from finite tables are bound once here, so recording an event allocates no label object.
 * Label values are outcomes, rejection codes, cache results, status classes, directions, TLS
 * failure causes, secret names (chosen by the operator) and auth types: never a credential,
 * stand-in, host, path or anything else a sandbox controls.
 */
export class CredproxyMetrics {
  readonly registry = new Registry();

  /** `credproxy_requests_total{outcome}` children. */
  readonly requests: Readonly<Record<Outcome, CounterChild>>;
  readonly requestDuration: RequestHistogram;
  readonly upstreamDuration: RequestHistogram;
  readonly proxyOverhead: RequestHistogram;
  /** `credproxy_rejections_total{reason}` children, one per REJECTIONS code. */
  readonly rejections: Readonly<Record<RejectionCode, CounterChild>>;
  readonly activeTunnels: Gauge;
  /** `credproxy_cert_cache_total{result}` children. */
  readonly certCache: Readonly<Record<CertCacheResult, CounterChild>>;
  /** `credproxy_tunnels_total`: tunnels established (CONNECT and transparent TLS). */
  readonly tunnelsOpened: CounterChild;
  /** `credproxy_client_bytes_total{direction}`: bytes on client connections, TLS included, counted as each closes. */
  readonly clientBytes: Readonly<Record<Direction, CounterChild>>;
  /** `credproxy_upstream_bytes_total{direction}`: request bodies sent upstream, response bodies received. */
  readonly upstreamBytes: Readonly<Record<Direction, CounterChild>>;
  /** `credproxy_client_tls_failures_total{cause}` children. */
  readonly clientTlsFailures: Readonly<Record<TlsFailureCause, CounterChild>>;
  /** `credproxy_cert_mint_duration_seconds`: successful leaf mints. */
  readonly certMintDuration: RequestHistogram;
  /** `credproxy_cert_mint_errors_total{reason}` children. */
  readonly certMintErrors: Readonly<Record<MintError, CounterChild>>;

  readonly #injections: LabeledCounter<'secret' | 'auth_type'>;
  /** secret name → auth type → child; created on first use and kept. */
  readonly #injectionChildren = new Map<string, Map<string, CounterChild>>();
  readonly #upstreamResponses: LabeledCounter<'secret' | 'class'>;
  /** secret name → every class's child, bound together on the secret's first response. */
  readonly #upstreamResponseChildren = new Map<string, Readonly<Record<StatusClass, CounterChild>>>();

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];

    const registry = this.registry;
    const requests = new LabeledCounter({
      name: 'credproxy_requests_total',
      help: 'Requests the proxy handled, by outcome.',
      labelNames: ['outcome'],
      registry,
    });
    this.requests = bindAll(OUTCOMES, (outcome) => requests.labels(outcome));

    this.requestDuration = new RequestHistogram({
      name: 'credproxy_request_duration_seconds',
      help: 'Client view of a request: head received to response finished.',
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.upstreamDuration = new RequestHistogram({
      name: 'credproxy_upstream_duration_seconds',
      help: 'Upstream dispatch to upstream response finished, for requests that were forwarded.',
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.proxyOverhead = new RequestHistogram({
      name: 'credproxy_proxy_overhead_seconds',
      help: 'Time spent in the proxy itself (request duration minus upstream duration), for forwarded requests.',
      buckets: OVERHEAD_BUCKETS,
      registry,
    });

    this.#injections = new LabeledCounter({
      name: 'credproxy_injections_total',
      help: 'Credentials injected, by secret name and the auth shape used.',
      labelNames: ['secret', 'auth_type'],
      registry,
    });

    const rejections = new LabeledCounter({
      name: 'credproxy_rejections_total',
      help: 'Responses the proxy made itself instead of the upstream, by X-Credproxy-Reason.',
      labelNames: ['reason'],
      registry,
    });
    this.rejections = bindAll(Object.keys(REJECTIONS) as RejectionCode[], (code) => rejections.labels(code));

    this.activeTunnels = new Gauge({
      name: 'credproxy_active_tunnels',
      help: 'CONNECT tunnels currently open.',
      registers,
    });

    const certCache = new LabeledCounter({
      name: 'credproxy_cert_cache_total',
      help: 'Leaf certificate lookups: served from cache, minted, or joined a mint in flight.',
      labelNames: ['result'],
      registry,
    });
    this.certCache = bindAll(CERT_CACHE_RESULTS, (result) => certCache.labels(result));

    this.#upstreamResponses = new LabeledCounter({
      name: 'credproxy_upstream_responses_total',
      help: 'Upstream responses to requests that carried a credential, by secret name and status class: a dead credential shows as 4xx for one secret.',
      labelNames: ['secret', 'class'],
      registry,
    });
    this.tunnelsOpened = new LabeledCounter({
      name: 'credproxy_tunnels_total',
      help: 'Tunnels established: CONNECT tunnels and transparent TLS connections admitted.',
      labelNames: [],
      registry,
    }).labels();
    const clientBytes = new LabeledCounter({
      name: 'credproxy_client_bytes_total',
      help: 'Bytes on client connections (TLS records included), received from or sent to sandboxes, counted when each connection or plain request ends.',
      labelNames: ['direction'],
      registry,
    });
    this.clientBytes = bindAll(DIRECTIONS, (direction) => clientBytes.labels(direction));
    const upstreamBytes = new LabeledCounter({
      name: 'credproxy_upstream_bytes_total',
      help: 'Body bytes exchanged with upstreams: request bodies sent, response bodies received.',
      labelNames: ['direction'],
      registry,
    });
    this.upstreamBytes = bindAll(DIRECTIONS, (direction) => upstreamBytes.labels(direction));
    const tlsFailures = new LabeledCounter({
      name: 'credproxy_client_tls_failures_total',
      help: 'Client TLS handshakes with the proxy that failed, by cause (unknown_ca: the client does not trust the CA).',
      labelNames: ['cause'],
      registry,
    });
    this.clientTlsFailures = bindAll(TLS_FAILURE_CAUSES, (cause) => tlsFailures.labels(cause));

    this.certMintDuration = new RequestHistogram({
      name: 'credproxy_cert_mint_duration_seconds',
      help: 'Time to mint a leaf certificate for a new host (one CA signature).',
      buckets: MINT_BUCKETS,
      registry,
    });
    const mintErrors = new LabeledCounter({
      name: 'credproxy_cert_mint_errors_total',
      help: 'Leaf certificates not minted: invalid_name (the client sent an SNI that is no host name), failed (signing failed).',
      labelNames: ['reason'],
      registry,
    });
    this.certMintErrors = bindAll(MINT_ERRORS, (reason) => mintErrors.labels(reason));

    new Gauge({
      name: 'credproxy_build_info',
      help: 'Always 1; the labels say which credproxy and Node.js run.',
      labelNames: ['version', 'node_version'],
      registers,
    }).set({ version: options.version ?? VERSION, node_version: process.version }, 1);

    const readiness = options.readiness;
    if (readiness) {
      new Gauge({
        name: 'credproxy_ready',
        help: 'What /readyz checks, 1 when passing: proxy (every proxy listener accepting), audit (the audit writer running).',
        labelNames: ['check'],
        registers,
        collect() {
          const checks = readiness();
          for (const check of READY_CHECKS) this.set({ check }, checks[check] ? 1 : 0);
        },
      });
    }

    const auditQueue = options.auditQueue;
    new Gauge({
      name: 'credproxy_audit_queue_depth',
      help: 'Audit rows waiting to be written.',
      registers,
      collect() {
        this.set(auditQueue?.depth ?? 0);
      },
    });
    let droppedSeen = 0;
    new Counter({
      name: 'credproxy_audit_dropped_total',
      help: 'Audit rows dropped because the queue was full or a write failed.',
      registers,
      collect() {
        // The queue owns the count; add what it gained since the last scrape.
        const dropped = auditQueue?.dropped ?? 0;
        if (dropped > droppedSeen) this.inc(dropped - droppedSeen);
        droppedSeen = dropped;
      },
    });

    const sidecar = options.sidecar;
    if (sidecar) {
      new Gauge({
        name: 'credproxy_fleet_bundle_age_seconds',
        help: 'Seconds since this sidecar last heard from its control plane; past fleet.maxBundleAgeMs it refuses with policy_unavailable.',
        registers,
        collect() {
          this.set(sidecar.bundleAgeSeconds);
        },
      });
      new Gauge({
        name: 'credproxy_fleet_outbox_rows',
        help: "Audit rows in this sidecar's outbox, not yet shipped to the control plane.",
        registers,
        collect() {
          this.set(sidecar.outboxRows);
        },
      });
    }

    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named `_total` fail `promtool check metrics`; their per-type series remain.
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
  }

  /** The `credproxy_injections_total{secret,auth_type}` child, created once per pair. */
  injection(secretName: string, authType: string): CounterChild {
    let byType = this.#injectionChildren.get(secretName);
    if (byType === undefined) {
      byType = new Map();
      this.#injectionChildren.set(secretName, byType);
    }
    let child = byType.get(authType);
    if (child === undefined) {
      child = this.#injections.labels(secretName, authType);
      byType.set(authType, child);
    }
    return child;
  }

  /** The `credproxy_upstream_responses_total{secret,class}` children of one secret, bound on first use. */
  upstreamResponses(secretName: string): Readonly<Record<StatusClass, CounterChild>> {
    let byClass = this.#upstreamResponseChildren.get(secretName);
    if (byClass === undefined) {
      byClass = bindAll(STATUS_CLASSES, (statusClass) => this.#upstreamResponses.labels(secretName, statusClass));
      this.#upstreamResponseChildren.set(secretName, byClass);
    }
    return byClass;
  }

  /** Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Builds the metrics catalogue on a fresh Registry. */
export function createMetrics(options: MetricsOptions = {}): CredproxyMetrics {
  return new CredproxyMetrics(options);
}

/**
 * Binds every known label value up front: a bound set is exported from the start, so rate() and
 * absent() see a 0 rather than nothing.
 */
function bindAll<K extends string>(keys: readonly K[], bind: (key: K) => CounterChild): Record<K, CounterChild> {
  const children = {} as Record<K, CounterChild>;
  for (const key of keys) children[key] = bind(key);
  return children;
}
