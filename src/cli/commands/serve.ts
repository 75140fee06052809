import type { Command } from 'commander';
import { STARTUP_ERROR_CODES } from '../../errors.js';
import { EXIT_FAILURE, EXIT_USAGE } from '../cli-error.js';
import type { ServeFlags } from '../serve-daemon.js';

/** Start-up errors a person fixes in the configuration or environment: exit 2 (docs/errors.md). */
const USAGE_CODES: ReadonlySet<string> = new Set(STARTUP_ERROR_CODES);

/**
 * `credproxy serve`: run both listeners until SIGTERM, SIGINT or SIGHUP (each drains). Registered with every other
 * command (so `credproxy serv` is told about it), while the daemon itself (fastify, node-forge,
 * SQLite: about 1 s of start-up) is loaded only when serve runs.
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the proxy and admin listeners (flags override env, env overrides the config file)')
    .option('--config <file>', 'YAML config file (default: config/default.yaml if present; env CREDPROXY_CONFIG)')
    .option('--proxy-listen <host:port>', 'proxy listener (default 127.0.0.1:8080)')
    .option('--admin-listen <host:port>', 'admin API listener (default 127.0.0.1:8081)')
    .option('--transparent-https <host:port>', 'listener for kernel-redirected TLS (TCP 443); off by default')
    .option('--transparent-http <host:port>', 'listener for kernel-redirected plain HTTP (TCP 80); off by default')
    .option('--transparent-sandbox <name-or-id>', 'the sandbox all transparent traffic belongs to (default: by source address)')
    .option('--data-dir <dir>', 'state directory (default ./data)')
    .option('--resolve <host:port=ip:port>', 'pin an upstream address, like curl --resolve (repeatable)', collect, undefined)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option('--role <role>', 'standalone (default) | control | sidecar: see README "Fleet mode"')
    .option('--control-url <url>', 'sidecar: the control plane admin URL (env CREDPROXY_CONTROL_URL)')
    .option('--sidecar-token <token>', 'sidecar: its token from POST /fleet/sidecars (prefer env CREDPROXY_SIDECAR_TOKEN)')
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

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
