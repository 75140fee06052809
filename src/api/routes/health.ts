import type { FastifyInstance } from 'fastify';

/** `GET /healthz` (no auth): the admin listener is up and serving. */
export function healthRoutes(app: FastifyInstance): void {
  app.get('/healthz', { config: { auth: false } }, async () => ({ status: 'ok' }));
}
