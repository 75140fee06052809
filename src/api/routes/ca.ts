import type { FastifyInstance } from 'fastify';

/** `GET /ca.pem` (no auth): the CA certificate sandboxes must trust. Public by nature. */
export function caRoutes(app: FastifyInstance, caCertPem: string): void {
  app.get('/ca.pem', { config: { auth: false } }, async (_request, reply) => reply.type('application/x-pem-file').send(caCertPem));
}
