import type { Logger } from '../log/logger.js';
import { runPeriodically } from './periodic.js';
import type { SandboxRef } from './sandboxes.js';

/** How often expired sandboxes are deleted. The proxy refuses their tokens from the instant itself. */
export const EXPIRY_SWEEP_MS = 10_000;

/** What the sweep needs of a store: the SQLite repository or the PostgreSQL one. */
export interface ExpiringSandboxes {
  sweepExpired(): SandboxRef[] | Promise<SandboxRef[]>;
}

/**
 * Deletes sandboxes past their expiry every `intervalMs` (and once at start), logging each at
 * info. Until a sweep reaches one it is already gone from the API and its token answers 407
 * sandbox_expired; after, like any deleted sandbox's, 407 proxy_auth_required. Every replica of
 * a control plane may run it: the DELETE is idempotent.
 */
export function startExpirySweep(sandboxes: ExpiringSandboxes, options: { logger: Logger; intervalMs?: number }): { stop(): void } {
  const { logger } = options;
  let running = false;
  const sweep = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (const { id, name } of await sandboxes.sweepExpired()) logger.info({ sandbox_id: id, sandbox_name: name }, 'sandbox expired and deleted');
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'sandbox expiry sweep failed');
    } finally {
      running = false;
    }
  };
  return runPeriodically(sweep, options.intervalMs ?? EXPIRY_SWEEP_MS);
}
