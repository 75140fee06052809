// The real daemon (createDaemon from dist/) on a store seeded before it starts, alone in its own
// process, for bench/control-plane.ts. Seeding goes through the store's own repositories, so the
// daemon loads what the admin API would have written, in seconds instead of minutes.
// Parent → child: { type: 'start', target: BenchTarget, seed: Seed } | { type: 'stats', gc?: boolean } | { type: 'stop' }
// Child → parent: { type: 'ready', ...SeededDaemon } | { type: 'stats', ...ChildStats, loopMaxMs }
//   | { type: 'log', line } (the daemon's retention lines) | { type: 'error', message }
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import type * as Main from '../src/main.js';
import type * as Log from '../src/log/logger.js';
import type * as Store from '../src/store/index.js';
import type * as Events from '../src/store/events.js';
import type * as Crypto from '../src/secrets/crypto.js';
import type * as ValidateSecret from '../src/secrets/validate-secret.js';
import { SWAPPED_REQUEST } from './audit-rows.js';
import { childStats } from './child-stats.js';
import { dist } from './dist.js';
import { benchConfig, type BenchTarget } from './proxy-modes.js';

/** What the store holds when the daemon starts. */
export interface Seed {
  /** Sandboxes; the first `bound` of them bind the secret `shared` as SHARED_KEY (at least 1). */
  sandboxes: number;
  bound: number;
  /** Every sandbox also binds a secret of its own (OWN_KEY), so the store holds as many secrets. */
  ownSecrets: boolean;
  /**
   * Rows in the audit log, dated so that they fall out of retention (`audit.retentionDays` is 1
   * here) `auditAgeOutMs` after the seeding ends (estimated from the row count); the daemon sweeps
   * every `retentionIntervalMs`.
   */
  auditRows: number;
  auditAgeOutMs: number;
  retentionIntervalMs: number;
}

/** The ready reply. */
export interface SeededDaemon {
  port: number;
  caPem: string;
  adminUrl: string;
  apiKey: string;
  /** Sandbox 0 authenticates the load; each request carries its SHARED_KEY stand-in. */
  proxyAuthorization: string;
  headers: Record<string, string>;
  /** The same sandbox's SPARE_KEY stand-in, for load that outlives the deletion of `shared`. */
  spareHeaders: Record<string, string>;
  /** The last 40 sandboxes' ids, for detach and delete. */
  sandboxIds: string[];
  /** Pages of each table and index (dbstat), bytes, right after seeding. */
  tableBytes: Record<string, number>;
}

type Message = { type: 'start'; target: BenchTarget; seed: Seed } | { type: 'stats'; gc?: boolean } | { type: 'stop' };

const DAY_MS = 24 * 60 * 60 * 1000;
const SHARED = 'shared';
let daemon: Main.Daemon | undefined;
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

process.on('message', (message: Message) => {
  void handle(message).catch((err: Error) => process.send!({ type: 'error', message: err.stack ?? err.message }));
});

async function handle(message: Message): Promise<void> {
  switch (message.type) {
    case 'start':
      process.send!({ type: 'ready', ...(await start(message.target, message.seed)) });
      return;
    case 'stats': {
      const loopMaxMs = loop.max / 1e6;
      loop.reset();
      process.send!({ type: 'stats', ...childStats(message.gc ?? false), loopMaxMs });
      return;
    }
    case 'stop':
      await daemon?.close();
      process.exit(0);
  }
}

async function start(target: BenchTarget, seed: Seed): Promise<SeededDaemon> {
  const { createDaemon } = await dist<typeof Main>('main.js');
  const { createLogger } = await dist<typeof Log>('log/logger.js');
  const config = await benchConfig(target, { 'audit.retentionDays': 1 });
  const seeded = await seedStore(config, target.host, seed);
  // Warnings and errors go to stderr; the retention lines go to the parent, which times the sweep.
  const destination = {
    write(line: string) {
      if (line.includes('"audit retention sweep"')) process.send!({ type: 'log', line: JSON.parse(line) });
      else if (!line.includes('"level":"info"')) process.stderr.write(line);
    },
  };
  const options = { logger: createLogger({ level: 'info', destination }), retentionIntervalMs: seed.retentionIntervalMs };
  daemon = await createDaemon(config, options);
  return {
    port: Number(daemon.proxyAddress.slice(daemon.proxyAddress.lastIndexOf(':') + 1)),
    caPem: await readFile(daemon.caPath, 'utf8'),
    adminUrl: `http://${daemon.adminAddress}`,
    apiKey: daemon.apiKey,
    ...seeded,
  };
}

/** Writes the seed through the repositories, then closes the store for the daemon to open. */
async function seedStore(config: Main.FrozenConfig, host: string, seed: Seed): Promise<Omit<SeededDaemon, 'port' | 'caPem' | 'adminUrl' | 'apiKey'>> {
  const { openStore } = await dist<typeof Store>('store/index.js');
  const { EventsRepository } = await dist<typeof Events>('store/events.js');
  const { SecretCipher, loadOrCreateMasterKey } = await dist<typeof Crypto>('secrets/crypto.js');
  const { parseCreateSecret } = await dist<typeof ValidateSecret>('secrets/validate-secret.js');
  const store = openStore({ dataDir: config.dataDir, cipher: new SecretCipher(await loadOrCreateMasterKey(config)) });
  try {
    const secret = (name: string) =>
      store.secrets.create(parseCreateSecret({ name, value: `real-${name}-${'x'.repeat(40)}`, auth: { type: 'bearer' }, hosts: [host] }));
    secret(SHARED);
    secret('spare'); // for sandboxes created while `shared` is deleted
    const ids: string[] = [];
    let first: { access_token: string; standIn: string; spare: string } | undefined;
    for (let i = 0; i < seed.sandboxes; i++) {
      const secrets: Record<string, string> = {};
      if (i < Math.max(1, seed.bound)) secrets.SHARED_KEY = SHARED;
      if (i === 0) secrets.SPARE_KEY = 'spare';
      if (seed.ownSecrets) secrets.OWN_KEY = secret(`own-${i}`).name;
      const sandbox = store.sandboxes.create({ name: `sb-${i}`, secrets, env_vars: {}, network: { allow_out: [], deny_out: [] }, metadata: {} });
      ids.push(sandbox.id);
      const standIn = (key: string) => sandbox.bindings.find((b) => b.envKey === key)!.standIn;
      first ??= { access_token: sandbox.accessToken, standIn: standIn('SHARED_KEY'), spare: standIn('SPARE_KEY') };
    }
    const events = new EventsRepository(store.db);
    // Writing a row takes ≈ 10–20 µs here: the rows age out auditAgeOutMs after the last is written.
    const agesOutAt = Date.now() + seed.auditAgeOutMs + seed.auditRows * 0.03;
    // One instant for all of them, so that one sweep finds them all old.
    const dated = agesOutAt - DAY_MS;
    for (let done = 0; done < seed.auditRows; done += 1000) {
      const rows = Array.from({ length: Math.min(1000, seed.auditRows - done) }, (_, k) => auditRow(done + k, dated, host));
      events.insertBatch(rows);
    }
    const tableBytes: Record<string, number> = {};
    for (const { name, bytes } of store.db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as Array<{
      name: string;
      bytes: number;
    }>) {
      tableBytes[name] = bytes;
    }
    return {
      proxyAuthorization: `Basic ${Buffer.from(`sb:${first!.access_token}`).toString('base64')}`,
      headers: { authorization: `Bearer ${first!.standIn}` },
      spareHeaders: { authorization: `Bearer ${first!.spare}` },
      sandboxIds: ids.slice(-40),
      tableBytes,
    };
  } finally {
    store.close();
  }
}

/**
 * The i-th seeded row: four in five are request rows (a swapped stand-in), one a connection row,
 * spread over 100 sandboxes and their secrets, as a busy daemon writes them.
 */
function auditRow(i: number, ts: number, host: string): Events.EventRow {
  const n = String(i % 100).padStart(12, '0');
  const common = {
    ts,
    sandboxId: `5d0c1c5e-2f0a-4c61-9d0e-${n}`,
    sandboxName: `sandbox-${i % 100}`,
    host,
    errorCode: null,
    requestId: i.toString(16).padStart(24, '0'),
  };
  if (i % 5 === 4) {
    return {
      ...common,
      kind: 'connection',
      secretId: null,
      method: null,
      path: null,
      status: null,
      upstreamStatus: null,
      latencyMs: null,
      dstIp: '203.0.113.7',
      dstPort: 443,
      verdict: 'allowed',
      matchRule: 'public 203.0.113.7',
      bytesSent: 2345,
      bytesRecv: 67890,
    };
  }
  return {
    ...common,
    ...SWAPPED_REQUEST,
    secretId: `0b6f9a34-7c2e-4d1a-8f3b-${n}`,
  };
}
