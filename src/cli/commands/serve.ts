import type { Command } from 'commander';
import { STARTUP_ERROR_CODES } from '../../errors.js';
import { EXIT_FAILURE, EXIT_USAGE } from '../cli-error.js';
import { serveOptions, type ServeFlags } from '../serve-flags.js';

/** Start-up errors a person fixes in the configuration or environment: exit 2 (docs/errors.md). */
const USAGE_CODES: ReadonlySet<string> = new Set(STARTUP_ERROR_CODES);

/**
 * `credproxy serve`: run both listeners until SIGTERM, SIGINT or SIGHUP (each drains). Registered with every other
 * command (so `credproxy serv` is told about it), while the daemon itself (fastify, node-forge,
 * SQLite: about 1 s of start-up) is loaded only when serve runs.
 */
export function registerServeCommand(program: Command): void {
  serveOptions(program.command('serve'))
    .description('run the proxy and admin listeners (flags override env, env overrides the config file)')
    .action(async (flags: ServeFlags) => {
      try {
        const { runServe } = await import('../serve-daemon.js');
        await runServe(flags);
      } catch (err) {
        // One line a person can act on: ConfigError and ListenError already name the key.
        const error = err as Error & { code?: string };
        process.stderr.write(`credproxy: ${error.message}\n`);
        process.exit(USAGE_CODES.has(error.code ?? '') ? EXIT_USAGE : EXIT_FAILURE);
      }
    });
}
