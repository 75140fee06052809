import { loadConfig } from '../../../src/config/load.js';
import type { FrozenConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/log/logger.js';
import { createDaemon, type Daemon } from '../../../src/main.js';
import { adminClient, type ApiCall, type RawCall } from './admin-client.js';
import { harnessDir, starting, type Teardown } from './cleanup.js';
import { LogSink } from './logs.js';

/** Both listeners on free loopback ports: what every harness config starts from. */
export const LOOPBACK_LISTEN = { 'proxy.listen': '127.0.0.1:0', 'admin.listen': '127.0.0.1:0' } as const;

/** The configuration a harness gives the code under test: `flags` (dotted keys) over loopback listeners, in `dir`. */
export function harnessConfig(dir: string, flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): FrozenConfig {
  return loadConfig({ cwd: dir, env, flags: { ...LOOPBACK_LISTEN, ...flags } });
}

export interface TestDaemon {
  daemon: Daemon;
  config: FrozenConfig;
  /** Working directory holding data/ and certs/; pass it again to restart on the same state. */
  dir: string;
  logs: LogSink;
  /** Calls the admin API with the daemon's key. */
  api: ApiCall;
  /** Calls the admin API with a raw body, or headers in place of the key. */
  call: RawCall;
  /** The proxy URL a sandbox uses: http://sb:<token>@host:port. */
  proxyUrl(accessToken?: string): string;
  close(): Promise<void>;
}

export interface StartDaemonOptions {
  /** Config values by dotted key (e.g. 'upstream.resolve': [...]), over loopback listeners and log.level debug. */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Reuse a previous daemon's directory (restart). */
  dir?: string;
  /** How often expired sandboxes are deleted (createDaemon's expirySweepMs). */
  expirySweepMs?: number;
}

/** Starts the real daemon in-process (createDaemon, as `serve` does) on 127.0.0.1 port 0 with its own data and CA directory. */
export function startDaemon(options: StartDaemonOptions = {}): Promise<TestDaemon> {
  return starting((teardown) => daemonIn(teardown, options));
}

/** startDaemon, its close also one step of `teardown` (a harness that starts more around it); its own close() closes the daemon only. */
export async function daemonIn(teardown: Teardown, options: StartDaemonOptions): Promise<TestDaemon> {
  const dir = options.dir ?? harnessDir('daemon');
  const config = harnessConfig(dir, { 'log.level': 'debug', ...options.flags }, options.env);
  const logs = new LogSink();
  const daemon = await createDaemon(config, { logger: createLogger({ level: config.log.level, destination: logs }), expirySweepMs: options.expirySweepMs });
  teardown.add(() => daemon.close());
  const { api, call } = adminClient(() => `http://${daemon.adminAddress}`, daemon.apiKey);
  return {
    daemon,
    config,
    dir,
    logs,
    api,
    call,
    proxyUrl: (accessToken) => (accessToken ? `http://sb:${accessToken}@${daemon.proxyAddress}` : `http://${daemon.proxyAddress}`),
    close: () => daemon.close(),
  };
}
