import type { FrozenConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { EventsRepository } from '../store/events.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionOptions {
  /** `audit.retentionDays`: rows older than this many days are deleted. */
  config: { readonly audit: Pick<FrozenConfig['audit'], 'retentionDays'> };
  logger: Logger;
  /** How often to sweep. Default 1 hour. */
  intervalMs?: number;
  /** Rows per DELETE statement; the sweep yields to the event loop between statements. Default 5000. */
  batchSize?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

export interface Retention {
  /** Runs one sweep now (waits for a sweep already running) and resolves to the rows it deleted. */
  sweep(): Promise<number>;
  /** Stops the timer and any sweep in progress after its current statement. */
  stop(): void;
}

/** Deletes audit/network rows past retention: once at start, then every `intervalMs` (unref'ed). */
export function startRetention(
  events: Pick<EventsRepository, 'deleteOlderThan'>,
  options: RetentionOptions,
): Retention {
  const batchSize = options.batchSize ?? 5000;
  const now = options.now ?? Date.now;
  let stopped = false;
  let running: Promise<number> | undefined;

  async function runSweep(): Promise<number> {
    const cutoff = new Date(now() - options.config.audit.retentionDays * DAY_MS).toISOString();
    const started = performance.now();
    let total = 0;
    // Bounded: each pass deletes a full batch or ends the loop, and the table is finite.
    while (!stopped) {
      const deleted = events.deleteOlderThan(cutoff, batchSize);
      total += deleted;
      if (deleted < batchSize) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (total > 0) options.logger.info({ deleted: total, cutoff, ms: Math.round(performance.now() - started) }, 'audit retention sweep');
    return total;
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
      stopped = true;
      clearImmediate(first);
      clearInterval(timer);
    },
  };
}
