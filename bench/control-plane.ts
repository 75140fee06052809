// node --import tsx bench/control-plane.ts — what the control plane's work costs the data plane.
// The real daemon (compiled dist/, its own process, store seeded before start) serves keep-alive
// load through the proxy while the admin API rotates, deletes, detaches and lists, while retention
// sweeps a million old audit rows, and while idle tunnels pile up. For each operation it prints the
// call's time, the daemon's longest event-loop stall, and the proxy's p99/max latency during the
// operation next to a quiet window just before it. Bounded in time and count; loopback only; never
// asserts timings. BENCH_SCENARIOS (comma list: rotate, store10k, retention, tunnels; default all),
// BENCH_CONNECTIONS (load connections, default 16), BENCH_TUNNEL_BATCH (tunnels opened at once, default 50),
// BENCH_SKIP_BUILD=1, BENCH_DIST=<dir> (another build).
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request, type Dispatcher } from 'undici';
import { buildBenchChildren } from './build.js';
import type { ChildStats } from './child-stats.js';
import { once, proxyAgent, startUpstream, type Upstream } from './harness.js';
import { forkBenchChild } from './proxy-process.js';
import type { BenchTarget } from './proxy-modes.js';
import type { Seed, SeededDaemon } from './seeded-daemon-child.js';

const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'rotate,store10k,retention,tunnels').split(',');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const HOST = 'api.bench.test';
const URL_PATH = `https://${HOST}/v1/x`;
/** Load runs this long before anything is measured (tunnels, leaf, JIT). */
const WARM_UP_MS = 1500;
/** The quiet window each operation is compared with, taken just before it. */
const QUIET_MS = 2000;
/** No load loop outlives this, whatever happens. */
const LOAD_CAP_MS = 10 * 60 * 1000;
/**
 * How long the tunnels idle before memory is read: V8 gives back young-generation space it grew
 * under load only after a few seconds without allocation, as an idle daemon does.
 */
const TUNNEL_IDLE_MS = 15_000;
const NO_SEED: Seed = { sandboxes: 1, bound: 1, ownSecrets: false, auditRows: 0, auditAgeOutMs: 0, retentionIntervalMs: 3_600_000 };

interface Daemon extends SeededDaemon {
  /** The daemon's figures; `loopMaxMs` is its longest event-loop stall since the previous call. */
  stats(gc?: boolean): Promise<ChildStats & { loopMaxMs: number }>;
  /** Retention lines the daemon logged. */
  readonly logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function startDaemon(childDir: string, target: BenchTarget, seed: Seed): Promise<Daemon> {
  const { child, next, stop } = forkBenchChild('seeded-daemon-child', [], childDir);
  const logs: Array<Record<string, unknown>> = [];
  child.on('message', (m: { type: string; line?: Record<string, unknown> }) => {
    if (m.type === 'log') logs.push(m.line!);
  });
  const ready = next<SeededDaemon>('ready');
  child.send({ type: 'start', target, seed });
  const daemon = await ready;
  return {
    ...daemon,
    logs,
    stats: (gc = false) => {
      const reply = next<ChildStats & { loopMaxMs: number }>('stats');
      child.send({ type: 'stats', gc });
      return reply;
    },
    stop,
  };
}

/** One admin API call: status, wall time, response size, parsed body. */
interface AdminResult {
  status: number;
  ms: number;
  bytes: number;
  json: unknown;
}

async function admin(daemon: Daemon, method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<AdminResult> {
  const t0 = performance.now();
  const res = await request(`${daemon.adminUrl}${path}`, {
    method,
    headers: { 'x-api-key': daemon.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, ms: performance.now() - t0, bytes: Buffer.byteLength(text), json: text ? JSON.parse(text) : undefined };
}

/** One proxied request: when it started and ended (performance.now()), and whether it failed. */
interface Sample {
  start: number;
  end: number;
  failed: boolean;
}

/** Closed-loop keep-alive load through the daemon's proxy until stopped. */
function startLoad(daemon: Daemon, headers = daemon.headers, connections = CONNECTIONS): { samples: Sample[]; stop(): Promise<void> } {
  const agent = proxyAgent(daemon, connections);
  const samples: Sample[] = [];
  const deadline = performance.now() + LOAD_CAP_MS;
  let running = true;
  const worker = async (): Promise<void> => {
    while (running && performance.now() < deadline) {
      const start = performance.now();
      let failed = false;
      try {
        await once(agent, URL_PATH, headers);
      } catch {
        failed = true;
      }
      samples.push({ start, end: performance.now(), failed });
    }
  };
  const workers = Promise.all(Array.from({ length: connections }, worker));
  return {
    samples,
    stop: async () => {
      running = false;
      await workers;
      await agent.close();
    },
  };
}

/** The requests that overlapped [from, to]: count, failures, p99 and max latency (ms). */
interface WindowStats {
  requests: number;
  failed: number;
  rps: number;
  p99: number;
  max: number;
}

function windowStats(samples: readonly Sample[], from: number, to: number): WindowStats {
  const inside = samples.filter((s) => s.end >= from && s.start <= to);
  const latencies = inside.map((s) => s.end - s.start).sort((a, b) => a - b);
  const completed = inside.filter((s) => s.end <= to).length;
  return {
    requests: inside.length,
    failed: inside.filter((s) => s.failed).length,
    rps: completed / Math.max((to - from) / 1000, 0.001),
    p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? NaN,
    max: latencies[latencies.length - 1] ?? NaN,
  };
}

/** One printed row: an operation, its calls, and the proxy during it vs just before. */
interface Row {
  scenario: string;
  operation: string;
  calls: number;
  /** Median and slowest call, ms. */
  callMs: [number, number];
  /** The daemon's longest event-loop stall, quiet window → during. */
  loopMaxMs: [number, number];
  quiet: WindowStats;
  during: WindowStats;
  note?: string;
}

const rows: Row[] = [];

/**
 * Runs `calls` operations (each awaited, `gapMs` apart) under load and records a Row. The quiet
 * window is the QUIET_MS before the first call; "during" spans the first call's start to the
 * last call's end.
 */
async function measure(
  daemon: Daemon,
  samples: Sample[],
  scenario: string,
  operation: string,
  calls: number,
  gapMs: number,
  call: (i: number) => Promise<AdminResult>,
  note?: (results: AdminResult[]) => string,
): Promise<AdminResult[]> {
  await daemon.stats(); // resets the stall monitor
  await sleep(QUIET_MS);
  const from = performance.now();
  const quietLoopMaxMs = (await daemon.stats()).loopMaxMs;
  const results: AdminResult[] = [];
  for (let i = 0; i < calls; i++) {
    results.push(await call(i));
    if (gapMs > 0 && i < calls - 1) await sleep(gapMs);
  }
  const to = performance.now();
  const { loopMaxMs } = await daemon.stats();
  await sleep(200); // lets requests that were stuck behind the last call finish
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  rows.push({
    scenario,
    operation,
    calls,
    callMs: [times[times.length >> 1]!, times[times.length - 1]!],
    loopMaxMs: [quietLoopMaxMs, loopMaxMs],
    quiet: windowStats(samples, from - QUIET_MS, from),
    during: windowStats(samples, from, to),
    note: note?.(results) ?? statusNote(results),
  });
  return results;
}

function statusNote(results: readonly AdminResult[]): string {
  const counts = new Map<number, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n}× ${status}`).join(', ');
}

/** A secret bound to N sandboxes, rotated under load; at 8,000 also detach, delete, and delete the secret. */
async function rotateScenario(childDir: string, target: () => Promise<BenchTarget>): Promise<void> {
  for (const bound of [1000, 4000, 5000, 8000]) {
    const daemon = await startDaemon(childDir, await target(), { ...NO_SEED, sandboxes: bound, bound });
    let load = startLoad(daemon);
    try {
      await sleep(WARM_UP_MS);
      const scenario = `secret bound to ${bound} sandboxes`;
      const rotations = bound === 5000 ? 10 : 3;
      await measure(daemon, load.samples, scenario, 'PATCH /secrets/shared', rotations, 100, (i) =>
        admin(daemon, 'PATCH', '/secrets/shared', { value: `rotated-${i}-${'y'.repeat(40)}` }),
      );
      if (bound !== 8000) continue;
      const ids = daemon.sandboxIds;
      await measure(daemon, load.samples, scenario, 'DELETE /sandboxes/{id}/secrets/SHARED_KEY', 20, 20, (i) =>
        admin(daemon, 'DELETE', `/sandboxes/${ids[i]}/secrets/SHARED_KEY`),
      );
      await measure(daemon, load.samples, scenario, 'DELETE /sandboxes/{id}', 20, 20, (i) => admin(daemon, 'DELETE', `/sandboxes/${ids[20 + i]}`));
      // From here the load carries a stand-in of another secret, which the deletion leaves alone,
      // and creates keep coming while the secret is deleted: none may fail.
      await load.stop();
      load = startLoad(daemon, daemon.spareHeaders);
      await sleep(WARM_UP_MS);
      const creates: AdminResult[] = [];
      let deleting = true;
      const creator = async (c: number): Promise<void> => {
        for (let n = 0; deleting && n < 1000; n++) {
          creates.push(await admin(daemon, 'POST', '/sandboxes', { name: `late-${c}-${n}`, secrets: { SPARE_KEY: 'spare' } }));
        }
      };
      const creators = Promise.all([0, 1, 2, 3].map(creator));
      await measure(
        daemon,
        load.samples,
        scenario,
        'DELETE /secrets/shared (with POST /sandboxes alongside)',
        1,
        0,
        () => admin(daemon, 'DELETE', '/secrets/shared'),
        (results) => `${statusNote(results)}; POST /sandboxes alongside: ${statusNote(creates)}`,
      );
      await sleep(100);
      deleting = false;
      await creators;
    } finally {
      await load.stop();
      await daemon.stop();
    }
  }
}

/** 10,000 secrets and sandboxes in the store: rotate a secret bound to 8,000, then the list endpoints. */
async function store10kScenario(childDir: string, target: () => Promise<BenchTarget>): Promise<void> {
  const daemon = await startDaemon(childDir, await target(), { ...NO_SEED, sandboxes: 10_000, bound: 8000, ownSecrets: true });
  const load = startLoad(daemon);
  const scenario = '10,000 secrets and sandboxes';
  const sizeNote = (results: AdminResult[]): string => `${statusNote(results)}, ${(results[0]!.bytes / 1e6).toFixed(2)} MB, ${countOf(results[0]!.json)} items`;
  try {
    await sleep(WARM_UP_MS);
    await measure(daemon, load.samples, scenario, 'PATCH /secrets/shared (8,000 bound)', 3, 100, (i) =>
      admin(daemon, 'PATCH', '/secrets/shared', { value: `rotated-${i}-${'y'.repeat(40)}` }),
    );
    for (const path of ['/sandboxes', '/secrets', '/secrets/shared/sandboxes']) {
      await measure(daemon, load.samples, scenario, `GET ${path}`, 1, 0, () => admin(daemon, 'GET', path), sizeNote);
      let cursor: string | undefined;
      let pages = 0;
      let items = 0;
      await measure(
        daemon,
        load.samples,
        scenario,
        `GET ${path}?limit=100, every page`,
        1,
        0,
        async () => {
          const t0 = performance.now();
          let last: AdminResult;
          do {
            last = await admin(daemon, 'GET', `${path}?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
            const page = last.json as { data?: unknown[]; next_cursor?: string | null };
            if (!Array.isArray(page.data)) break; // a build without paging answers with the whole list
            pages++;
            items += page.data.length;
            cursor = page.next_cursor ?? undefined;
          } while (cursor);
          return { ...last, ms: performance.now() - t0 };
        },
        () => (pages > 0 ? `${pages} pages, ${items} items` : 'not paged: the whole list'),
      );
    }
  } finally {
    await load.stop();
    await daemon.stop();
  }
}

/** A million audit rows fall out of retention while the proxy is under load. */
async function retentionScenario(childDir: string, target: () => Promise<BenchTarget>): Promise<void> {
  const rowsToSweep = 1_000_000;
  const daemon = await startDaemon(childDir, await target(), { ...NO_SEED, auditRows: rowsToSweep, auditAgeOutMs: 30_000, retentionIntervalMs: 1000 });
  const tables = Object.entries(daemon.tableBytes).filter(([name]) => !name.startsWith('sqlite_'));
  const auditBytes = tables.filter(([name]) => name.startsWith('events') || name.startsWith('audit')).reduce((sum, [, b]) => sum + b, 0);
  console.log(
    `audit storage after seeding ${rowsToSweep} rows: ${(auditBytes / rowsToSweep).toFixed(0)} bytes per row ` +
      `(${tables.map(([name, b]) => `${name} ${(b / rowsToSweep).toFixed(0)}`).join(', ')})`,
  );
  const loadStarted = performance.now();
  const load = startLoad(daemon);
  try {
    const deadline = performance.now() + 180_000;
    await sleep(WARM_UP_MS);
    await daemon.stats(); // resets the stall monitor
    const swept = (): Record<string, unknown> | undefined => daemon.logs.find((l) => Number(l.deleted) >= rowsToSweep);
    while (!swept() && performance.now() < deadline) await sleep(200);
    const line = swept();
    if (!line) throw new Error('the retention sweep did not run within 180 s');
    const end = performance.now() - 50; // the line reaches us a moment after the sweep ends
    const { loopMaxMs } = await daemon.stats();
    const ms = Number(line.ms);
    const start = end - ms;
    // The same load with no sweep, right after it: the sweep may start before the load does.
    await sleep(QUIET_MS * 2);
    const quietLoop = (await daemon.stats()).loopMaxMs;
    const quiet = windowStats(load.samples, end + 200, end + 200 + QUIET_MS * 2 - 300);
    rows.push({
      scenario: `retention, ${rowsToSweep} rows`,
      operation: 'one sweep (quiet = the 4 s after it)',
      calls: 1,
      callMs: [ms, ms],
      loopMaxMs: [quietLoop, loopMaxMs],
      quiet,
      during: windowStats(load.samples, Math.max(start, loadStarted + WARM_UP_MS), end),
      note: `${line.deleted} rows, ${((ms * 1000) / Number(line.deleted)).toFixed(1)} µs a row`,
    });
  } finally {
    await load.stop();
    await daemon.stop();
  }
}

/** RSS with 1,000 and then 3,000 idle tunnels (each served one request), against the idle daemon. */
async function tunnelsScenario(childDir: string, target: () => Promise<BenchTarget>): Promise<void> {
  const daemon = await startDaemon(childDir, await target(), NO_SEED);
  const tunnels: TLSSocket[] = [];
  try {
    // One request first, so the baseline has its leaf, upstream pool and JIT warm.
    await openIdleTunnel(daemon).then((t) => t.destroy());
    await sleep(500);
    const idle = await idleStats(daemon);
    console.log(`idle daemon after start: ${memory(idle)}`);
    for (const count of [1000, 3000]) {
      while (tunnels.length < count) {
        const batch = Math.min(Number(process.env.BENCH_TUNNEL_BATCH ?? 50), count - tunnels.length);
        tunnels.push(...(await Promise.all(Array.from({ length: batch }, () => openIdleTunnel(daemon)))));
      }
      const stats = await idleStats(daemon);
      const per = (key: 'rss' | 'live' | 'heapTotal') => `${((stats[key] - idle[key]) / count / 1024).toFixed(1)} KB`;
      console.log(`${count} idle tunnels: ${memory(stats)}; a tunnel: RSS ${per('rss')}, heap + buffers ${per('live')}, heap committed ${per('heapTotal')}`);
    }
  } finally {
    for (const t of tunnels) t.destroy();
    await daemon.stop();
  }
}

/** Once a tunnel, as every idle sandbox, has been silent for TUNNEL_IDLE_MS: what an idle daemon holds. */
async function idleStats(daemon: Daemon): Promise<ChildStats> {
  await sleep(TUNNEL_IDLE_MS);
  return daemon.stats(true);
}

function memory(stats: ChildStats): string {
  return `RSS ${mb(stats.rss)} MB, heap + buffers ${mb(stats.live)} MB, heap committed ${mb(stats.heapTotal)} MB`;
}

/**
 * CONNECT, TLS inside, one keep-alive request and its whole response; then the tunnel is left
 * open and silent, as an idle sandbox client leaves it.
 */
function openIdleTunnel(daemon: Daemon): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tunnel did not open within 10 s')), 10_000);
    const raw = netConnect(daemon.port, '127.0.0.1');
    raw.on('error', reject);
    raw.write(`CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\nProxy-Authorization: ${daemon.proxyAuthorization}\r\n\r\n`);
    raw.once('data', (head: Buffer) => {
      if (!head.toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(`CONNECT: ${head.toString('latin1').split('\r\n')[0]}`));
      const tls = tlsConnect({ socket: raw, servername: HOST, ca: daemon.caPem });
      tls.on('error', reject);
      let response = '';
      tls.once('secureConnect', () => tls.write(`GET /v1/x HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: ${daemon.headers.authorization}\r\n\r\n`));
      tls.on('data', function onData(chunk: Buffer) {
        response += chunk.toString('latin1');
        const headEnd = response.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(response)?.[1];
        if (headEnd < 0 || length === undefined || response.length < headEnd + 4 + Number(length)) return;
        tls.off('data', onData);
        clearTimeout(timer);
        resolve(tls);
      });
    });
  });
}

function countOf(json: unknown): number | string {
  return Array.isArray(json) ? json.length : '?';
}

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function printRows(): void {
  const f = (ms: number): string => (Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(1) : ms.toFixed(0));
  console.table(
    rows.map((r) => ({
      scenario: r.scenario,
      operation: r.operation,
      calls: r.calls,
      'call ms (median / max)': `${f(r.callMs[0])} / ${f(r.callMs[1])}`,
      'loop stall max ms quiet → during': `${f(r.loopMaxMs[0])} → ${f(r.loopMaxMs[1])}`,
      'proxy p99 ms quiet → during': `${f(r.quiet.p99)} → ${f(r.during.p99)}`,
      'proxy max ms quiet → during': `${f(r.quiet.max)} → ${f(r.during.max)}`,
      'proxy rps quiet → during': `${r.quiet.rps.toFixed(0)} → ${r.during.rps.toFixed(0)}`,
      'failed during': r.during.failed,
      note: r.note ?? '',
    })),
  );
}

async function main(): Promise<void> {
  const children = await buildBenchChildren();
  const dir = await mkdtemp(join(tmpdir(), 'credproxy-control-bench-'));
  let upstream: Upstream | undefined;
  try {
    upstream = await startUpstream(children.dir, dir);
    const up = upstream;
    let n = 0;
    const target = async (): Promise<BenchTarget> => ({
      host: HOST,
      upstreamPort: up.port,
      upstreamCaPath: up.caPath,
      dir: await mkdtemp(join(dir, `daemon-${n++}-`)),
    });
    console.log(
      `control-plane: ${CONNECTIONS} keep-alive connections of load, compiled dist/ under node ${process.version}, ` +
        `${availableParallelism()} cores, load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    if (SCENARIOS.includes('rotate')) await rotateScenario(children.dir, target);
    if (SCENARIOS.includes('store10k')) await store10kScenario(children.dir, target);
    if (SCENARIOS.includes('retention')) await retentionScenario(children.dir, target);
    if (SCENARIOS.includes('tunnels')) await tunnelsScenario(children.dir, target);
  } finally {
    upstream?.stop();
    await rm(dir, { recursive: true, force: true });
    await children.cleanup();
  }
  if (rows.length > 0) printRows();
}

await main();
