import type { FrozenConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { EventsRepository } from '../store/events.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Rows per DELETE statement: ≈ 1–3 ms of the writer thread's time each. */
export const RETENTION_BATCH_ROWS = 500;

/** Where a sweep runs: WorkerAuditSink, on the audit writer thread and its connection. */
export interface RetentionTarget {
  /** Deletes every row with `ts` before `isoTs`, in small batches; resolves to how many it deleted. */
  deleteOlderThan(isoTs: string): Promise<number>;
}

export interface RetentionOptions {
  /** `audit.retentionDays`: rows older than this many days are deleted. */
  config: { readonly audit: Pick<FrozenConfig['audit'], 'retentionDays'> };
  logger: Logger;
  /** How often to sweep. Default 1 hour. */
  intervalMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

export interface Retention {
  /** Runs one sweep now (waits for a sweep already running) and resolves to the rows it deleted. */
  sweep(): Promise<number>;
  /** Stops the timer; a sweep in progress is ended by the target's close. */
  stop(): void;
}

/**
 * Deletes audit/network rows past retention: once at start, then every `intervalMs` (unref'ed).
 * Only the schedule lives here, on the proxy's thread; the deleting runs where `target` runs it.
 */
export function startRetention(target: RetentionTarget, options: RetentionOptions): Retention {
  const now = options.now ?? Date.now;
  let running: Promise<number> | undefined;

  async function runSweep(): Promise<number> {
    const cutoff = new Date(now() - options.config.audit.retentionDays * DAY_MS).toISOString();
    const started = performance.now();
    const deleted = await target.deleteOlderThan(cutoff);
    if (deleted > 0) options.logger.info({ deleted, cutoff, ms: Math.round(performance.now() - started) }, 'audit retention sweep');
    return deleted;
  }

  function sweep(): Promise<number> {
    running ??= runSweep()
      .catch((err: unknown) => {
        options.logger.error({ err: { message: (err as Error)?.message } }, 'audit retention sweep failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const first = setImmediate(() => void sweep());
  const timer = setInterval(() => void sweep(), options.intervalMs ?? 60 * 60 * 1000);
  timer.unref();
  first.unref();

  return {
    sweep,
    stop() {
      clearImmediate(first);
      clearInterval(timer);
    },
  };
}

/**
 * One sweep, as the writer thread runs it: DELETE statements of `batchRows` rows, each followed
 * by a rest as long as the statement took. The rest lets the batches of audit rows queued
 * meanwhile be written, and keeps the sweep to about half of one core, so a sweep of a million
 * rows slows neither the audit log nor, on a small host, the proxy's own share of the CPUs.
 * Bounded: each statement deletes a full batch or ends the loop, and the table is finite.
 */
export async function deleteInBatches(
  events: Pick<EventsRepository, 'deleteOlderThan'>,
  isoTs: string,
  options: { batchRows?: number; stopped?: () => boolean } = {},
): Promise<number> {
  const batchRows = options.batchRows ?? RETENTION_BATCH_ROWS;
  let total = 0;
  while (!options.stopped?.()) {
    const started = performance.now();
    const deleted = events.deleteOlderThan(isoTs, batchRows);
    total += deleted;
    if (deleted < batchRows) break;
    const took = performance.now() - started;
    await new Promise<void>((resolve) => setTimeout(resolve, Math.max(1, Math.round(took))));
  }
  return total;
}
