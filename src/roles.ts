import type { FrozenConfig } from './config/schema.js';
import { createControlPlane } from './control/index.js';
import type { Logger } from './log/logger.js';
import { createDaemon, type DaemonOptions } from './main.js';
import { createSidecar } from './sidecar/index.js';

/**
 * Starts what `fleet.role` names: the single daemon (standalone, the default), a control-plane
 * replica or a sidecar. Each writes its own ready line and stops on close(); the single daemon
 * also logs where its configuration came from and stops a start that `signal` aborts.
 */
export async function startRole(config: FrozenConfig, options: DaemonOptions & { logger: Logger }): Promise<{ close(): Promise<void> }> {
  switch (config.fleet.role) {
    case 'control':
      return createControlPlane(config, { logger: options.logger });
    case 'sidecar':
      return createSidecar(config, { logger: options.logger });
    case 'standalone':
      return createDaemon(config, options);
  }
}
