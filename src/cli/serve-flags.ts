import type { Command } from 'commander';
import type { ConfigSources } from '../config/load.js';

/** `credproxy serve`'s options as commander hands them over. */
export interface ServeFlags {
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

/**
 * Declares serve's options on `command`: once, because `serve` takes them and `healthcheck` reads
 * them, both off its own command line and off the running serve's (so both resolve one config).
 */
export function serveOptions(command: Command): Command {
  return command
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
    .option('--sidecar-token <token>', 'sidecar: its token from POST /fleet/sidecars (prefer env CREDPROXY_SIDECAR_TOKEN)');
}

/** What serve's flags contribute to the config merge (flags > env > file). */
export function serveSources(flags: ServeFlags): ConfigSources {
  return {
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
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
