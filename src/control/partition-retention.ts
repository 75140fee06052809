import type { Logger } from '../log/logger.js';
import { runPeriodically } from '../store/periodic.js';
import type { PgStore } from '../store/postgres/index.js';

/** Change log rows older than this are pruned; a sidecar further behind is sent a reset. */
export const CHANGE_LOG_KEEP_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * Hourly (and once at start): drops audit partitions past audit.retentionDays and prunes the
 * change log. Every replica may run it; DROP TABLE IF EXISTS and the DELETE are idempotent.
 */
export function startPartitionRetention(store: PgStore, options: { logger: Logger }): { stop(): void } {
  const sweep = async (): Promise<void> => {
    try {
      const dropped = await store.events.dropExpiredPartitions();
      await store.pool.query('DELETE FROM changes WHERE at < $1', [new Date(Date.now() - CHANGE_LOG_KEEP_MS)]);
      if (dropped.length > 0) options.logger.info({ dropped }, 'audit retention dropped partitions');
    } catch (err) {
      options.logger.error({ err: { message: (err as Error).message } }, 'audit retention sweep failed');
    }
  };
  return runPeriodically(sweep, SWEEP_EVERY_MS);
}
