import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SandboxInfo } from '../../../src/sdk/types.js';
import { createTestPki, type TestPki } from '../pki.js';
import { startUpstream, type TestUpstream } from '../upstream.js';
import { starting, type Teardown } from './cleanup.js';
import { daemonIn, type StartDaemonOptions, type TestDaemon } from './daemon.js';
import { proxyClient, type ProxyClient } from './proxy-client.js';

/**
 * Every host name the tests use, all pinned to the local upstreams through upstream.resolve so no
 * test ever asks real DNS.
 */
export const TEST_HOSTS = [
  'api.openai.com',
  'api.anthropic.com',
  'api.github.com',
  'github.com',
  'api.example.test',
  'a.example.test',
  'b.a.example.test',
  'example.test',
  'evil.test',
  'api.custom.test',
  'basic.test',
] as const;

/** The echo upstreams a world routes TEST_HOSTS to: HTTPS with its own CA on :443, plain HTTP on :80. */
export interface TestUpstreams {
  upstreamPki: TestPki;
  upstream: TestUpstream;
  plainUpstream: TestUpstream;
  /** upstream.resolve entries sending every TEST_HOSTS name to them. */
  resolve: string[];
}

/** Starts both echo upstreams on 127.0.0.1:0, closed by `teardown`; a `pki` given stays the caller's to remove. */
export async function upstreamsIn(teardown: Teardown, pki?: TestPki): Promise<TestUpstreams> {
  const upstreamPki = pki ?? (await createTestPki('world-upstream'));
  if (!pki) teardown.add(() => upstreamPki.remove());
  const upstream = await startUpstream({ pki: upstreamPki });
  teardown.add(() => upstream.close());
  const plainUpstream = await startUpstream();
  teardown.add(() => plainUpstream.close());
  const resolve = [
    ...TEST_HOSTS.map((host) => `${host}:443=127.0.0.1:${upstream.port}`),
    ...TEST_HOSTS.map((host) => `${host}:80=127.0.0.1:${plainUpstream.port}`),
  ];
  return { upstreamPki, upstream, plainUpstream, resolve };
}

/** A running daemon in front of a local HTTPS echo upstream (own CA) and a plain-HTTP one. */
export interface World extends TestUpstreams, Omit<ProxyClient, 'close'> {
  daemon: TestDaemon;
  /** The daemon's CA PEM, which sandbox clients trust. */
  caPem: string;
  /** Closes the clients, the daemon and the upstreams, in that order. */
  close(): Promise<void>;
}

export interface StartWorldOptions extends StartDaemonOptions {
  /** Use this upstream CA (the caller's other upstreams share it; the caller removes it) instead of a fresh one. */
  upstreamPki?: TestPki;
  /** More upstream.resolve entries, for the caller's own upstreams. */
  resolve?: readonly string[];
}

export function startWorld(options: StartWorldOptions = {}): Promise<World> {
  return starting((teardown) => worldIn(teardown, options));
}

async function worldIn(teardown: Teardown, options: StartWorldOptions): Promise<World> {
  const upstreams = await upstreamsIn(teardown, options.upstreamPki);
  const daemon = await daemonIn(teardown, {
    ...options,
    flags: { 'upstream.resolve': [...upstreams.resolve, ...(options.resolve ?? [])], 'upstream.caFile': upstreams.upstreamPki.caPath, ...options.flags },
  });
  const caPem = readFileSync(daemon.daemon.caPath, 'utf8');
  const client = proxyClient(daemon.daemon.proxyAddress, caPem);
  teardown.add(() => client.close());
  return { ...upstreams, daemon, caPem, agentFor: client.agentFor, fetchAs: client.fetchAs, close: () => teardown.close() };
}

export interface SecretWorldOptions {
  /** Names the upstream's CA, the secret and the sandbox. */
  name: string;
  /** The host the secret is for, routed to the caller's upstream. */
  host: string;
  /** The secret's real value (bearer). */
  value: string;
  /** The upstream's request handler (HTTPS, its own CA). */
  upstream: RequestListener;
}

/** A world whose sandbox holds one bearer secret, as `TOKEN`, for a host served by the caller's upstream. */
export interface SecretWorld {
  world: World;
  /** The sandbox as the API created it: `access_token`, and the stand-in in `env.TOKEN`. */
  sandbox: { access_token: string; env: { TOKEN: string } };
  close(): Promise<void>;
}

export function startSecretWorld(options: SecretWorldOptions): Promise<SecretWorld> {
  return starting(async (teardown) => {
    const pki = await createTestPki(`${options.name}-upstream`);
    teardown.add(() => pki.remove());
    const server = createServer({ SNICallback: pki.certs.sniCallback }, options.upstream);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.add(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    const world = await worldIn(teardown, {
      upstreamPki: pki,
      resolve: [`${options.host}:443=127.0.0.1:${(server.address() as AddressInfo).port}`],
      flags: { 'log.level': 'warn' },
    });
    const created = await world.daemon.api('POST', '/secrets', { name: options.name, value: options.value, auth: { type: 'bearer' }, hosts: [options.host] });
    if (created.status !== 201) throw new Error(`creating the secret: ${created.status} ${created.text}`);
    const sandbox = await world.daemon.api<SecretWorld['sandbox']>('POST', '/sandboxes', { name: options.name, secrets: { TOKEN: options.name } });
    return { world, sandbox: sandbox.json, close: () => teardown.close() };
  });
}

/** The stand-in a sandbox got for `key` (from its `env`); throws when it has no such variable. */
export function standInOf(sandbox: Pick<SandboxInfo, 'env'>, key: string): string {
  const value = sandbox.env[key];
  if (value === undefined) throw new Error(`the sandbox has no ${key} in its env`);
  return value;
}
