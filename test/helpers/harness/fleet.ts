import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki, type TestPki } from '../pki.js';
import { testPostgres, type TestPostgres } from '../postgres.js';
import { startUpstream, type TestUpstream } from '../upstream.js';
import { adminClient, type ApiCall } from './admin-client.js';
import { harnessDir, starting, type Teardown } from './cleanup.js';
import { proxyClient } from './proxy-client.js';
import { spawnServe, type ServeProcess } from './spawned.js';

/** Host names the fleet tests use, pinned to the local upstream through upstream.resolve. */
export const FLEET_HOST = 'api.fleet.test';
export const FLEET_API_KEY = `fleet-admin-key-${randomBytes(8).toString('hex')}`;
const MASTER_KEY = randomBytes(32).toString('base64');

export interface Fleet {
  readonly pg: TestPostgres;
  readonly databaseUrl: string;
  readonly upstream: TestUpstream;
  readonly upstreamPki: TestPki;
  readonly dir: string;
  control: ServeProcess;
  /** Calls the control plane's admin API. */
  api: ApiCall;
  startControl(): Promise<ServeProcess>;
  /** Registers a sidecar (first time only) and starts its process; `dir` keeps state across restarts. */
  startSidecar(name: string, extra?: Record<string, unknown>): Promise<SidecarProcess>;
  /** Every process's output so far, control planes and sidecars, past and present. */
  allOutput(): string;
  close(): Promise<void>;
}

export interface SidecarProcess extends ServeProcess {
  readonly name: string;
  readonly dataDir: string;
  /** GET https://api.fleet.test<path> through this sidecar as the sandbox with `accessToken`. */
  fetch(
    accessToken: string,
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; reason: string | undefined; requestId?: string }>;
}

export interface StartFleetOptions {
  heartbeatMs?: number;
  maxBundleAgeMs?: number;
}

/**
 * A control plane (`serve --role control`, real subprocess) on a throwaway PostgreSQL, a real
 * HTTPS echo upstream with its own CA, and sidecars started on demand (`serve --role sidecar`).
 * Everything listens on 127.0.0.1; the upstream is reached through upstream.resolve.
 */
export function startFleet(options: StartFleetOptions = {}): Promise<Fleet> {
  return starting((teardown) => fleetIn(teardown, options));
}

async function fleetIn(teardown: Teardown, options: StartFleetOptions): Promise<Fleet> {
  const pg = await testPostgres();
  const databaseUrl = await pg.createDatabase();
  const upstreamPki = await createTestPki('fleet-upstream');
  teardown.add(() => upstreamPki.remove());
  const upstream = await startUpstream({ pki: upstreamPki });
  teardown.add(() => upstream.close());
  const dir = harnessDir('fleet');
  const outputs: Array<() => string> = [];
  const tokens = new Map<string, string>();
  const spawn = async (home: string, config: Record<string, unknown>, env: Record<string, string>): Promise<ServeProcess> => {
    const process = await spawnServe(home, config, env);
    outputs.push(process.output);
    return process;
  };

  const fleet: Fleet = {
    pg,
    databaseUrl,
    upstream,
    upstreamPki,
    dir,
    control: undefined as unknown as ServeProcess,
    api: adminClient(() => `http://${fleet.control.ready.admin}`, FLEET_API_KEY).api,
    async startControl() {
      // A restarted control plane comes back on the same port, as behind a fixed service address.
      const listen = fleet.control ? fleet.control.ready.admin : '127.0.0.1:0';
      fleet.control = await spawn(
        join(dir, 'control'),
        { fleet: { heartbeatMs: options.heartbeatMs ?? 200 } },
        {
          CREDPROXY_ROLE: 'control',
          CREDPROXY_DATABASE_URL: databaseUrl,
          CREDPROXY_MASTER_KEY: MASTER_KEY,
          CREDPROXY_API_KEY: FLEET_API_KEY,
          CREDPROXY_ADMIN_LISTEN: listen,
        },
      );
      return fleet.control;
    },
    async startSidecar(name, extra = {}) {
      let token = tokens.get(name);
      if (!token) {
        const registered = await fleet.api('POST', '/fleet/sidecars', { name });
        if (registered.status !== 201) throw new Error(`registering ${name}: ${registered.status} ${registered.text}`);
        token = registered.json.token as string;
        tokens.set(name, token);
      }
      const home = join(dir, `sidecar-${name}`);
      const process = await spawn(
        home,
        {
          upstream: { resolve: [`${FLEET_HOST}:443=127.0.0.1:${upstream.port}`], caFile: upstreamPki.caPath },
          fleet: { maxBundleAgeMs: options.maxBundleAgeMs ?? 2_000, shipIntervalMs: 100 },
          ...extra,
        },
        { CREDPROXY_ROLE: 'sidecar', CREDPROXY_CONTROL_URL: `http://${fleet.control.ready.admin}`, CREDPROXY_SIDECAR_TOKEN: token },
      );
      teardown.add(() => process.stop());
      const client = proxyClient(process.ready.proxy!, readFileSync(process.ready.ca!, 'utf8'));
      teardown.add(() => client.close());
      return {
        ...process,
        name,
        dataDir: join(home, 'data'),
        async fetch(accessToken, path, headers = {}) {
          const res = await client.fetchAs(accessToken, `https://${FLEET_HOST}${path}`, { headers });
          const header = (key: string) => {
            const value = res.headers[key];
            return typeof value === 'string' ? value : undefined;
          };
          return { status: res.status, text: res.text, reason: header('x-credproxy-reason'), requestId: header('x-credproxy-request-id') };
        },
      };
    },
    allOutput: () => outputs.map((o) => o()).join(''),
    close: () => teardown.close(),
  };
  teardown.add(() => fleet.control?.stop());
  await fleet.startControl();
  return fleet;
}

/**
 * Polls `probe` every 10 ms until it is true. Returns when, after the call, the first request that
 * saw the change started (what "a request that starts after … sees it" means): the probe's own
 * round trip, hundreds of ms on a loaded machine, is not counted. Throws after `ms`.
 */
export async function within(what: string, ms: number, probe: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    const probeStart = performance.now();
    if (probeStart - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    if (await probe()) return probeStart - start;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
