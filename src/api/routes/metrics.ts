import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface MetricsRouteDeps {
  registry: Registry;
  /** config `admin.metricsAuth`: when false, scrapers need no API key. */
  requireAuth: boolean;
}

/** `GET /metrics` in the Prometheus text format. */
export function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get('/metrics', { config: { auth: deps.requireAuth } }, async (_request, reply) => {
    const text = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(text);
  });
}
