import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { FrozenConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { AdminStore } from './admin-store.js';
import { admitAdminHosts } from './admin-host.js';
import { requireApiKey } from './api-key.js';
import { describeForLog, sendFailure, toFailure } from './error-envelope.js';
import { agentsRoutes } from './routes/agents.js';
import { auditRoutes } from './routes/audit.js';
import { caRoutes } from './routes/ca.js';
import { fleetRoutes, type FleetRoutesDeps } from './routes/fleet.js';
import { healthRoutes, type Readiness } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { networkRoutes } from './routes/network.js';
import { providerRoutes } from './routes/providers.js';
import { sandboxRoutes } from './routes/sandboxes.js';
import { secretRoutes } from './routes/secrets.js';
import type { SandboxEnvOptions } from './sandbox-env.js';

/** Largest request body the admin API reads (413 `payload_too_large` beyond). */
const BODY_LIMIT = 1024 * 1024;

export interface AdminDeps {
  readonly config: FrozenConfig;
  readonly logger: Logger;
  /** The admin API key every route needs unless it says `config: { auth: false }`. */
  readonly apiKey: string;
  /** Served at GET /ca.pem; a control plane has no proxy and so no CA. */
  readonly caCertPem?: string | undefined;
  /** Served at GET /metrics, with the API key when `admin.metricsAuth`. */
  readonly metrics: Registry;
  /** What GET /readyz checks; without it there is no /readyz. */
  readonly readiness?: Readiness;
  /**
   * The state behind /secrets, /sandboxes (with their audit and network logs) and /v1/agents,
   * with the proxy URL and CA path put into each sandbox's `env`. A fleet sidecar's admin
   * listener has none: its control plane serves them.
   */
  readonly controlPlane?: { readonly store: AdminStore; readonly sandboxEnv: SandboxEnvOptions } | undefined;
  /** The fleet control plane's /fleet/ routes (sidecar registry, bundles, change stream). */
  readonly fleet?: FleetRoutesDeps | undefined;
}

/**
 * The admin REST API as a fastify instance, ready to `listen()` (or `inject()` in tests); routes
 * are registered when fastify boots (`ready()`/`listen()`), in the order given here.
 * fastify's own request logging is off, so what reaches the log about a request is chosen
 * here: a debug line with method, route pattern and status, never headers, query or body.
 */
export function buildAdminApp(deps: AdminDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // fastify leaves requestTimeout at 0, which turns Node's headers timeout off (slowloris).
    http: {
      headersTimeout: deps.config.admin.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, deps.config.admin.headersTimeoutMs),
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });

  strictJsonBodies(app);

  app.setErrorHandler((err, request, reply) => {
    const failure = toFailure(err);
    if (failure.internal) {
      request.log.error({ err: describeForLog(err), method: request.method, route: request.routeOptions.url }, 'admin API request failed');
    }
    return sendFailure(request, reply, failure);
  });
  app.setNotFoundHandler((request, reply) => sendFailure(request, reply, { status: 404, code: 'not_found', message: 'Route not found' }));

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'admin request',
    );
  });

  const listen = deps.config.admin.listen;
  const listenHost = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  admitAdminHosts(app, { listenHost, allowedHosts: deps.config.admin.allowedHosts });
  requireApiKey(app, deps.apiKey);
  healthRoutes(app, deps.readiness);
  if (deps.caCertPem !== undefined) caRoutes(app, deps.caCertPem);
  providerRoutes(app);
  metricsRoute(app, { registry: deps.metrics, requireAuth: deps.config.admin.metricsAuth });
  if (deps.controlPlane) {
    const { store, sandboxEnv } = deps.controlPlane;
    secretRoutes(app, store);
    auditRoutes(app, store);
    sandboxRoutes(app, store, sandboxEnv);
    networkRoutes(app, store);
    agentsRoutes(app, store, sandboxEnv);
  }
  if (deps.fleet) fleetRoutes(app, deps.fleet);
  return app;
}

/**
 * Bodies are JSON only (text/plain and other types: 400). An empty body with a JSON content
 * type reads as absent, because some clients send the header on DELETE too; the body's own
 * parse is fastify's (secure-json-parse, proto-poisoning refused).
 */
function strictJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
}
