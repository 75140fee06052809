import { resolveConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startRole } from '../roles.js';
import { serveSources, type ServeFlags } from './serve-flags.js';

/**
 * Each stops the daemon the same way: stop accepting, drain, flush the audit log, exit 0. SIGHUP
 * (a closed terminal or a supervisor's "reload") too, since the config is frozen at start: a
 * restart is the reload, and Node's default action would kill requests in flight.
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Runs the daemon until SIGTERM, SIGINT or SIGHUP, then drains and exits 0. A signal during start-up
 * (before the ready line) stops the start, closes what was opened and exits 0 too.
 */
export async function runServe(flags: ServeFlags): Promise<void> {
  const { config, origins } = resolveConfig(serveSources(flags));
  const logger = createLogger({ level: config.log.level });
  const starting = new AbortController();
  let daemon: { close(): Promise<void> } | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    if (daemon === undefined) {
      starting.abort();
      return;
    }
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  try {
    daemon = await startRole(config, { logger, origins, signal: starting.signal });
  } catch (err) {
    if (!starting.signal.aborted) throw err;
    logger.info('stopped before ready');
    process.exit(0);
  }
}
