import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { closedPort } from './ports.js';

/** Debian installs each major version's server binaries here; nothing relies on PATH symlinks. */
const PG_LIB = '/usr/lib/postgresql';

/** A PostgreSQL cluster of its own, on 127.0.0.1, removed when the test process ends. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/<db>` for a fresh database (see createDatabase). */
  readonly url: string;
  readonly port: number;
  /** A new empty database on this cluster; its URL. Each test can have a clean schema. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the cluster (fast) without removing it; start() brings it back on the same port. */
  stop(): void;
  start(): void;
  /** Stops the cluster and removes its directory. Also runs on process exit. */
  close(): void;
}

/** The newest installed server's bin dir, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_LIB)) return undefined;
  const versions = readdirSync(PG_LIB)
    .filter((v) => existsSync(join(PG_LIB, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(PG_LIB, versions[0], 'bin');
}

/**
 * Why PostgreSQL tests cannot run here, or undefined when they can. In CI (CI=true) a missing
 * server is a failure, not a skip: .ci/run installs `postgresql`.
 */
export function postgresSkipReason(): string | undefined {
  if (postgresBinDir()) {
    if (process.getuid?.() === 0 || spawnSync('id', ['-un']).stdout?.toString().trim() === 'postgres') return undefined;
    return 'the throwaway PostgreSQL cluster is started as the postgres user, which needs root';
  }
  const reason = `PostgreSQL server binaries not found under ${PG_LIB} (apt-get install postgresql)`;
  if (process.env.CI === 'true') throw new Error(reason);
  return reason;
}

let shared: Promise<TestPostgres> | undefined;
let databases = 0;

/**
 * One throwaway cluster per test process (node:test runs each file in its own process), started
 * on first use: `initdb` + `pg_ctl start` as the postgres user in a temp dir, on a free port,
 * trust auth on loopback only. A watchdog stops it and removes the dir if this process dies
 * without running its exit hook (SIGKILL).
 */
export async function testPostgres(): Promise<TestPostgres> {
  return (shared ??= startCluster());
}

async function startCluster(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresSkipReason() ?? 'PostgreSQL not installed');
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(run('id', ['-u', 'postgres'])), Number(run('id', ['-g', 'postgres'])));
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));

  as('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await closedPort();
  const start = () => {
    as('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start',
      '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`]);
  };
  const stop = () => {
    spawnSync(asRoot ? 'runuser' : join(bin, 'pg_ctl'), [...(asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl')] : []),
      '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
  };
  const close = () => {
    stop();
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', close);
  };
  process.on('exit', close);
  // If this process is killed outright, the watchdog still stops the cluster and removes it.
  spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; `
    + `${asRoot ? 'runuser -u postgres -- ' : ''}${join(bin, 'pg_ctl')} -D ${data} -m immediate stop >/dev/null 2>&1; rm -rf ${dir}`],
  { detached: true, stdio: 'ignore' }).unref();

  const cluster: TestPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async createDatabase(name = `t${process.pid}_${++databases}`) {
      const client = new pg.Client({ connectionString: cluster.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    close,
  };
  start();
  return cluster;
}

function run(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  return result.stdout.trim();
}
