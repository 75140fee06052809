// npm run bench — proxied vs direct HTTPS on loopback, measured in one run so the ratio is fair.
// The upstream and each proxy run in their own processes; this process generates load with undici
// (keep-alive; ProxyAgent for proxied cases). Not part of npm test; never asserts timings.
// BENCH_SECONDS (default 10) bounds each case; BENCH_MODES (comma list) picks proxy modes.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { PROXY_MODES } from './proxy-modes.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = [16, 64];
const MODES = (process.env.BENCH_MODES ?? Object.keys(PROXY_MODES).join(',')).split(',');
const HOST = 'api.bench.test';
const NEW_HOSTS = 10;

interface CaseResult {
  name: string;
  connections: number;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number | undefined;
  rssMb: number | undefined;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'credproxy-bench-'));
  const upstream = await startUpstream(dir);
  const upstreamCa = await readFile(upstream.caPath, 'utf8');
  const results: CaseResult[] = [];
  let firstRequest: string | undefined;
  try {
    for (const connections of CONCURRENCY) {
      const direct = new Agent({ connections, connect: { ca: upstreamCa, servername: HOST } });
      results.push(await runCase('direct', connections, direct, `https://127.0.0.1:${upstream.port}/v1/x`, undefined));
      await direct.close();
    }
    for (const mode of MODES) {
      const proxy = await startProxyProcess(mode, { host: HOST, upstreamPort: upstream.port, upstreamCaPath: upstream.caPath, dir: await mkdtemp(join(dir, `${mode}-`)) });
      try {
        for (const connections of CONCURRENCY) {
          const agent = new ProxyAgent({ uri: `http://127.0.0.1:${proxy.port}`, requestTls: { ca: proxy.caPem }, connections });
          results.push(await runCase(mode, connections, agent, `https://${HOST}/v1/x`, proxy));
          await agent.close();
        }
        if (mode === 'credproxy') firstRequest = await timeFirstRequests(proxy);
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    upstream.child.send({ type: 'stop' });
    await rm(dir, { recursive: true, force: true });
  }
  printTable(results);
  if (firstRequest) console.log(`\n${firstRequest}`);
}

async function runCase(name: string, connections: number, dispatcher: Dispatcher, url: string, proxy: ProxyProcess | undefined): Promise<CaseResult> {
  // Warm-up: open the pool's connections (tunnels, leaf certificate, upstream pool).
  await Promise.all(Array.from({ length: connections }, () => once(dispatcher, url)));
  const before = await proxy?.stats();
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await once(dispatcher, url);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const after = await proxy?.stats();
  latencies.sort((a, b) => a - b);
  return {
    name, connections, requests: latencies.length, errors,
    rps: latencies.length / elapsed,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? NaN,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
    cpuUsPerRequest: before && after ? (after.cpuUs - before.cpuUs) / latencies.length : undefined,
    rssMb: after ? after.rss / 1048576 : undefined,
  };
}

async function once(dispatcher: Dispatcher, url: string, headers?: Record<string, string>): Promise<void> {
  const res = await request(url, { dispatcher, headers });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
}

/** First request to a never-seen host (new tunnel, leaf minted, new upstream pool) vs a new tunnel to a known host. */
async function timeFirstRequests(proxy: ProxyProcess): Promise<string> {
  const fresh: number[] = [];
  const cached: number[] = [];
  for (let i = 0; i < NEW_HOSTS; i++) {
    for (const sample of [fresh, cached]) {
      const agent = new ProxyAgent({ uri: `http://127.0.0.1:${proxy.port}`, requestTls: { ca: proxy.caPem } });
      const t0 = performance.now();
      await once(agent, `https://h${i}.bench.test/v1/x`);
      sample.push(performance.now() - t0);
      await agent.close();
    }
  }
  const median = (xs: number[]): string => xs.sort((a, b) => a - b)[xs.length >> 1]!.toFixed(2);
  return `credproxy first request on a new tunnel (median of ${NEW_HOSTS}): new host ${median(fresh)} ms, ` +
    `known host (cached leaf, pooled upstream) ${median(cached)} ms`;
}

async function startUpstream(dir: string): Promise<{ child: ChildProcess; port: number; caPath: string }> {
  const child = fork(fileURLToPath(new URL('./upstream-child.ts', import.meta.url)), [dir], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ port: number; caPath: string }>((resolve, reject) => {
    child.once('message', (m: { port: number; caPath: string }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { child, ...ready };
}

function printTable(results: CaseResult[]): void {
  const direct = new Map(results.filter((r) => r.name === 'direct').map((r) => [r.connections, r]));
  const rows = results.map((r) => {
    const base = direct.get(r.connections)!;
    return {
      case: r.name, conns: r.connections, requests: r.requests, errors: r.errors,
      rps: r.rps.toFixed(0), 'p50 ms': r.p50.toFixed(2), 'p99 ms': r.p99.toFixed(2),
      'proxy CPU µs/req': r.cpuUsPerRequest?.toFixed(0) ?? '-',
      'proxy RSS MB': r.rssMb?.toFixed(0) ?? '-',
      'rps / direct': (r.rps / base.rps).toFixed(2),
      'p50 / direct': (r.p50 / base.p50).toFixed(2),
    };
  });
  console.log(`proxy-vs-direct: ${SECONDS} s per case, loopback, 2 cores shared by load generator, proxy and upstream`);
  console.table(rows);
}

await main();
