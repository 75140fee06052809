import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ProxyAgent, request } from 'undici';
import type { SandboxInfo } from '../../src/sdk/types.js';
import { startDaemon, type StartDaemonOptions, type TestDaemon } from './daemon.js';
import { createTestPki, type TestPki } from './pki.js';
import { startUpstream, type TestUpstream } from './upstream.js';

/**
 * Every host name the tests use, all pinned to the local upstreams through upstream.resolve so no
 * test ever asks real DNS.
 */
export const TEST_HOSTS = [
  'api.openai.com', 'api.anthropic.com', 'api.github.com', 'github.com', 'api.example.test',
  'a.example.test', 'b.a.example.test', 'example.test', 'evil.test', 'api.custom.test', 'basic.test',
] as const;

/** A running daemon in front of a local HTTPS echo upstream (own CA) and a plain-HTTP one. */
export interface World {
  daemon: TestDaemon;
  upstreamPki: TestPki;
  upstream: TestUpstream;
  plainUpstream: TestUpstream;
  /** The daemon's CA PEM, which sandbox clients trust. */
  caPem: string;
  /** undici dispatcher for a sandbox (its access token as proxy credentials). */
  agentFor(accessToken: string | undefined): ProxyAgent;
  /** GET/POST through the proxy as a sandbox; returns status, headers and text. */
  fetchAs(accessToken: string | undefined, url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{
    status: number; headers: Record<string, string | string[] | undefined>; text: string;
  }>;
  close(): Promise<void>;
}

export interface StartWorldOptions extends StartDaemonOptions {
  /** Use this upstream CA (the caller's other upstreams share it; the caller removes it) instead of a fresh one. */
  upstreamPki?: TestPki;
  /** More upstream.resolve entries, for the caller's own upstreams. */
  resolve?: readonly string[];
}

export async function startWorld(options: StartWorldOptions = {}): Promise<World> {
  const upstreamPki = options.upstreamPki ?? await createTestPki('world-upstream');
  const upstream = await startUpstream({ pki: upstreamPki });
  const plainUpstream = await startUpstream();
  const resolve = [
    ...TEST_HOSTS.map((host) => `${host}:443=127.0.0.1:${upstream.port}`),
    ...TEST_HOSTS.map((host) => `${host}:80=127.0.0.1:${plainUpstream.port}`),
    ...options.resolve ?? [],
  ];
  const daemon = await startDaemon({
    ...options,
    flags: { 'upstream.resolve': resolve, 'upstream.caFile': upstreamPki.caPath, ...options.flags },
  });
  const caPem = readFileSync(daemon.daemon.caPath, 'utf8');
  const agents = new Map<string, ProxyAgent>();

  const agentFor = (accessToken: string | undefined): ProxyAgent => {
    const key = accessToken ?? '';
    let agent = agents.get(key);
    if (!agent) {
      agent = new ProxyAgent({
        uri: `http://${daemon.daemon.proxyAddress}`,
        requestTls: { ca: caPem },
        ...(accessToken ? { token: `Basic ${Buffer.from(`sb:${accessToken}`).toString('base64')}` } : {}),
      });
      agents.set(key, agent);
    }
    return agent;
  };

  return {
    daemon,
    upstreamPki,
    upstream,
    plainUpstream,
    caPem,
    agentFor,
    async fetchAs(accessToken, url, init = {}) {
      try {
        const res = await request(url, {
          dispatcher: agentFor(accessToken),
          method: (init.method ?? 'GET') as 'GET',
          headers: init.headers,
          body: init.body,
        });
        return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
      } catch (err) {
        // undici reports a refused CONNECT as an error; its status is what the proxy answered.
        const refused = /Proxy response \((\d{3})\)/.exec((err as Error).message);
        if (!refused) throw err;
        return { status: Number(refused[1]), headers: {}, text: '' };
      }
    },
    async close() {
      await Promise.all([...agents.values()].map((agent) => agent.close()));
      await daemon.close();
      await upstream.close();
      await plainUpstream.close();
      if (!options.upstreamPki) await upstreamPki.remove();
    },
  };
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

export async function startSecretWorld(options: SecretWorldOptions): Promise<SecretWorld> {
  const pki = await createTestPki(`${options.name}-upstream`);
  const server = createServer({ SNICallback: pki.certs.sniCallback }, options.upstream);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const world = await startWorld({
    upstreamPki: pki,
    resolve: [`${options.host}:443=127.0.0.1:${(server.address() as AddressInfo).port}`],
    flags: { 'log.level': 'warn' },
  });
  const created = await world.daemon.api('POST', '/secrets', { name: options.name, value: options.value, auth: { type: 'bearer' }, hosts: [options.host] });
  if (created.status !== 201) throw new Error(`creating the secret: ${created.status} ${created.text}`);
  const sandbox = (await world.daemon.api('POST', '/sandboxes', { name: options.name, secrets: { TOKEN: options.name } })).json;
  return {
    world,
    sandbox,
    async close() {
      await world.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pki.remove();
    },
  };
}

/** The stand-in a sandbox got for `key` (from its `env`); throws when it has no such variable. */
export function standInOf(sandbox: Pick<SandboxInfo, 'env'>, key: string): string {
  const value = sandbox.env[key];
  if (value === undefined) throw new Error(`the sandbox has no ${key} in its env`);
  return value;
}
