import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { FrozenConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { sendFailure } from './error-envelope.js';
import { healthRoutes, type Readiness } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';

export interface MetricsAppDeps {
  readonly config: FrozenConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly readiness: Readiness;
}

/**
 * The `metrics.listen` listener: /metrics, /healthz and /readyz without an API key, and nothing
 * else, so it can sit on an interface Prometheus and the kubelet reach but sandboxes do not.
 */
export function buildMetricsApp(deps: MetricsAppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    http: {
      headersTimeout: deps.config.admin.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, deps.config.admin.headersTimeoutMs),
    },
  });
  app.setNotFoundHandler((request, reply) => sendFailure(request, reply, { status: 404, code: 'not_found', message: 'Route not found' }));
  healthRoutes(app, deps.readiness);
  metricsRoute(app, { registry: deps.registry, requireAuth: false });
  return app;
}
