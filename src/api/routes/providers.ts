import type { FastifyInstance } from 'fastify';
import { PROVIDERS, toWire } from '../../secrets/providers.js';

/** `GET /providers`: the provider shortcut catalogue, alphabetical (PROVIDERS is kept sorted). */
export function providerRoutes(app: FastifyInstance): void {
  app.get('/providers', async () => PROVIDERS.map(toWire));
}
