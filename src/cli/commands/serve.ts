import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { startRole } from '../../roles.js';
import { createLogger } from '../../log/logger.js';

interface ServeFlags {
  config?: string;
  proxyListen?: string;
  adminListen?: string;
  transparentHttps?: string;
  transparentHttp?: string;
  transparentSandbox?: string;
  dataDir?: string;
  resolve?: string[];
  logLevel?: string;
  role?: string;
  controlUrl?: string;
  sidecarToken?: string;
}

/** `credproxy serve`: run both listeners until SIGTERM/SIGINT. Config errors exit 2. */
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
        await serve(flags);
      } catch (err) {
        // One line a person can act on: ConfigError already names the key.
        const error = err as Error & { code?: string };
        process.stderr.write(`credproxy: ${error.message}\n`);
        process.exit(error.code === 'config_invalid' ? 2 : 1);
      }
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  const config = loadConfig({
    file: flags.config,
    flags: {
      'proxy.listen': flags.proxyListen,
      'admin.listen': flags.adminListen,
      'transparent.https': flags.transparentHttps,
      'transparent.http': flags.transparentHttp,
      'transparent.sandbox': flags.transparentSandbox,
      dataDir: flags.dataDir,
      'upstream.resolve': flags.resolve,
      'log.level': flags.logLevel,
      'fleet.role': flags.role,
      'fleet.controlUrl': flags.controlUrl,
      'fleet.sidecarToken': flags.sidecarToken,
    },
  });
  const logger = createLogger({ level: config.log.level });
  const daemon = await startRole(config, { logger });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
