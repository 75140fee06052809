import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { FrozenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { ProxyEvents, type ConnectionEvent, type RequestEvent } from '../../src/proxy/events.js';
import { PASS_THROUGH_POLICY, type ProxyPolicy } from '../../src/proxy/policy.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { createTestPki, type TestPki } from './pki.js';

/** A ProxyServer on 127.0.0.1:0 with its own CA, recording every event and log line. */
export interface ProxyHarness {
  readonly proxy: ProxyServer;
  readonly port: number;
  readonly config: FrozenConfig;
  /** The proxy's CA: clients trust `pki.caPath` / `pki.ca.certPem`. */
  readonly pki: TestPki;
  readonly requests: RequestEvent[];
  readonly connections: ConnectionEvent[];
  readonly tunnels: Array<1 | -1>;
  /** NDJSON log lines at debug level. */
  readonly logs: string[];
  close(): Promise<void>;
}

export interface ProxyHarnessOptions {
  /** Config values by dotted key, on top of listen 127.0.0.1:0. */
  flags?: Record<string, unknown>;
  policy?: ProxyPolicy;
  protectedAddresses?: () => ReadonlyArray<{ address: string; port: number }>;
}

export async function startProxy(options: ProxyHarnessOptions = {}): Promise<ProxyHarness> {
  const cwd = await mkdtemp(join(tmpdir(), 'credproxy-proxy-'));
  const config = loadConfig({ env: {}, cwd, flags: { 'proxy.listen': '127.0.0.1:0', ...options.flags } });
  const pki = await createTestPki('proxy-ca');
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => { logs.push(line); } } });
  const events = new ProxyEvents();
  const requests: RequestEvent[] = [];
  const connections: ConnectionEvent[] = [];
  const tunnels: Array<1 | -1> = [];
  events.on('request', (e) => requests.push(e));
  events.on('connection', (e) => connections.push(e));
  events.on('tunnel', (e) => tunnels.push(e));
  const proxy = new ProxyServer({
    config, logger, events, certs: pki.certs,
    policy: options.policy ?? PASS_THROUGH_POLICY,
    protectedAddresses: options.protectedAddresses ?? (() => []),
  });
  const address: AddressInfo = await proxy.listen();
  return {
    proxy, port: address.port, config, pki, requests, connections, tunnels, logs,
    close: async () => {
      await proxy.close();
      await pki.remove();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

/** Resolves once `check` holds, polling every 10 ms for at most `ms`. */
export async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
