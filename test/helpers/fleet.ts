import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { stringify } from 'yaml';
import { readyLine, serveEnv, spawnCli } from './cli.js';
import { createTestPki, type TestPki } from './pki.js';
import { testPostgres, type TestPostgres } from './postgres.js';
import { startUpstream, type TestUpstream } from './upstream.js';
import type { UntypedJson } from './harness/index.js';

/** Host names the fleet tests use, pinned to the local upstream through upstream.resolve. */
export const FLEET_HOST = 'api.fleet.test';
export const API_KEY = `fleet-admin-key-${randomBytes(8).toString('hex')}`;
const MASTER_KEY = randomBytes(32).toString('base64');

/** A `credproxy serve` subprocess with its stdout and stderr kept (for the canary checks). */
export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: { proxy?: string; admin: string; ca?: string; transparentHttps?: string };
  readonly output: () => string;
  /** SIGTERM and wait for exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash, nothing flushed. */
  kill(): Promise<void>;
}

export interface Fleet {
  readonly pg: TestPostgres;
  readonly databaseUrl: string;
  readonly upstream: TestUpstream;
  readonly upstreamPki: TestPki;
  readonly dir: string;
  control: ServeProcess;
  /** Calls the control plane's admin API. */
  api<T = UntypedJson>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T; text: string }>;
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

/**
 * A control plane (`serve --role control`, real subprocess) on a throwaway PostgreSQL, a real
 * HTTPS echo upstream with its own CA, and sidecars started on demand (`serve --role sidecar`).
 * Everything listens on 127.0.0.1; the upstream is reached through upstream.resolve.
 */
export async function startFleet(options: { heartbeatMs?: number; maxBundleAgeMs?: number } = {}): Promise<Fleet> {
  const pg = await testPostgres();
  const databaseUrl = await pg.createDatabase();
  const upstreamPki = await createTestPki('fleet-upstream');
  const upstream = await startUpstream({ pki: upstreamPki });
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-fleet-'));
  const outputs: Array<() => string> = [];
  const tokens = new Map<string, string>();
  const sidecars = new Set<ServeProcess>();
  const agents: ProxyAgent[] = [];

  const spawnServe = async (env: Record<string, string>, config: Record<string, unknown>, home: string): Promise<ServeProcess> => {
    mkdirSync(home, { recursive: true });
    const configPath = join(home, 'config.yaml');
    writeFileSync(configPath, stringify({ log: { level: 'debug' }, ...config }));
    const child = await spawnCli(['serve', '--config', configPath], { env: { ...serveEnv(home), ...env } });
    let out = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stdout.on('data', (c: Buffer | string) => (out += c.toString()));
    outputs.push(() => out);
    const ready = await readyLine(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const waitExit = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    };
    return { child, ready, output: () => out, stop: () => waitExit('SIGTERM'), kill: () => waitExit('SIGKILL') };
  };

  const fleet: Fleet = {
    pg,
    databaseUrl,
    upstream,
    upstreamPki,
    dir,
    control: undefined as unknown as ServeProcess,
    async api(method, path, body) {
      const res = await request(`http://${fleet.control.ready.admin}${path}`, {
        method: method as 'GET',
        headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, text, json: text ? JSON.parse(text) : undefined };
    },
    async startControl() {
      const home = join(dir, 'control');
      // A restarted control plane comes back on the same port, as behind a fixed service address.
      const listen = fleet.control ? fleet.control.ready.admin : '127.0.0.1:0';
      fleet.control = await spawnServe(
        {
          CREDPROXY_ROLE: 'control',
          CREDPROXY_DATABASE_URL: databaseUrl,
          CREDPROXY_MASTER_KEY: MASTER_KEY,
          CREDPROXY_API_KEY: API_KEY,
          CREDPROXY_ADMIN_LISTEN: listen,
        },
        { fleet: { heartbeatMs: options.heartbeatMs ?? 200 } },
        home,
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
      const process = await spawnServe(
        { CREDPROXY_ROLE: 'sidecar', CREDPROXY_CONTROL_URL: `http://${fleet.control.ready.admin}`, CREDPROXY_SIDECAR_TOKEN: token },
        {
          upstream: { resolve: [`${FLEET_HOST}:443=127.0.0.1:${upstream.port}`], caFile: upstreamPki.caPath },
          fleet: { maxBundleAgeMs: options.maxBundleAgeMs ?? 2_000, shipIntervalMs: 100 },
          ...extra,
        },
        home,
      );
      sidecars.add(process);
      const caPem = readFileSync(process.ready.ca!, 'utf8');
      const byToken = new Map<string, ProxyAgent>();
      const agentFor = (accessToken: string) => {
        let agent = byToken.get(accessToken);
        if (!agent) {
          agent = new ProxyAgent({
            uri: `http://${process.ready.proxy}`,
            requestTls: { ca: caPem },
            token: `Basic ${Buffer.from(`sb:${accessToken}`).toString('base64')}`,
          });
          byToken.set(accessToken, agent);
          agents.push(agent);
        }
        return agent;
      };
      return {
        ...process,
        name,
        dataDir: join(home, 'data'),
        async fetch(accessToken, path, headers = {}) {
          try {
            const res = await request(`https://${FLEET_HOST}${path}`, { dispatcher: agentFor(accessToken), headers });
            const reason = res.headers['x-credproxy-reason'];
            const requestId = res.headers['x-credproxy-request-id'];
            return {
              status: res.statusCode,
              text: await res.body.text(),
              reason: typeof reason === 'string' ? reason : undefined,
              requestId: typeof requestId === 'string' ? requestId : undefined,
            };
          } catch (err) {
            const refused = /Proxy response \((\d{3})\)/.exec((err as Error).message);
            if (!refused) throw err;
            return { status: Number(refused[1]), text: '', reason: undefined };
          }
        },
      };
    },
    allOutput: () => outputs.map((o) => o()).join(''),
    async close() {
      await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
      await Promise.all([...sidecars].map((s) => s.stop()));
      await fleet.control?.stop();
      await upstream.close();
      await upstreamPki.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
