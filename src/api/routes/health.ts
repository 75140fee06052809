import type { FastifyInstance } from 'fastify';

/** Each named check, true when passing (main.ts: proxy listeners accepting, audit writer running). */
export type Readiness = () => Readonly<Record<string, boolean>>;

/**
 * `GET /healthz` (no auth): liveness, the listener answers. `GET /readyz` (no auth): 200 when
 * every check passes, else 503, with each check's state: `{"status":"ready","checks":{"proxy":"ok",…}}`.
 */
export function healthRoutes(app: FastifyInstance, readiness?: Readiness): void {
  app.get('/healthz', { config: { auth: false } }, async () => ({ status: 'ok' }));
  if (readiness === undefined) return;
  app.get('/readyz', { config: { auth: false } }, async (_request, reply) => {
    const checks = Object.entries(readiness());
    const ready = checks.every(([, ok]) => ok);
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(checks.map(([name, ok]) => [name, ok ? 'ok' : 'failing'])),
    });
  });
}
