import type { FastifyRequest } from 'fastify';

/** The admin changes logged at `info` (docs/operations.md §4, "Admin changes"). */
export type AdminChange =
  | 'secret created'
  | 'secret rotated'
  | 'secret deleted'
  | 'sandbox created'
  | 'sandbox deleted'
  | 'binding attached'
  | 'binding detached'
  | 'agent created'
  | 'agent updated'
  | 'agent deleted'
  | 'agent secrets set'
  | 'agent secret deleted';

/**
 * One `info` line per change the admin API made, once it succeeded: what changed, named by ids
 * and names only (never a value, a token or a body), under the request's `reqId`. Field names
 * are the access log's (secret_name, sandbox_id, …), so one grep follows a secret through both.
 */
export function logChange(request: FastifyRequest, change: AdminChange, fields: Record<string, unknown>): void {
  request.log.info({ change: change.replace(' ', '.'), ...fields }, change);
}
