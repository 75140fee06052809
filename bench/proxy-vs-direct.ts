// npm run bench — proxied vs direct HTTPS on loopback, measured in one run so the ratios are fair.
// Runs `npm run build` first: the upstream and each proxy run the compiled code (dist/) under plain
// node, each in its own process; this process (under tsx) generates load with undici (keep-alive;
// ProxyAgent for proxied cases). Cases are interleaved (10 rounds of one slice each) so that a load
// change on the machine hits all of them alike; then each feature (injection, audit + metrics) is
// compared on vs off with both cases loaded at once. Not part of npm test; never asserts timings.
// BENCH_SECONDS (default 10) is each case's measured time; BENCH_MODES (comma list, default direct + every proxy mode);
// BENCH_CONNECTIONS (default 16,64); BENCH_SKIP_BUILD=1 reuses dist/; BENCH_DIST=<dir> runs another build
// (e.g. `tsc -p tsconfig.json --outDir .tmp/distB`); BENCH_BASELINE_DIST=<dir> also runs every proxy mode on that
// build (`<mode>@baseline`) and pairs it with the same mode on this one: a change's cost, before → after, loaded at once;
// BENCH_PROFILE=<dir> CPU-profiles the proxies.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { buildBenchChildren } from './build.js';
import { once, proxyAgent, startUpstream, type Upstream } from './harness.js';
import { PASS_THROUGH_HEADERS, PROXY_MODES } from './proxy-modes.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = (process.env.BENCH_CONNECTIONS ?? '16,64').split(',').map(Number);
const MODES = (process.env.BENCH_MODES ?? ['direct', ...Object.keys(PROXY_MODES)].join(',')).split(',');
/** Another build whose modes are paired with this build's, before → after (see the header). */
const BASELINE_DIST = process.env.BENCH_BASELINE_DIST;
const BASELINE_SUFFIX = '@baseline';
const HOST = 'api.bench.test';
const NEW_HOSTS = 10;
const WARM_UP_MS = 1000;
/**
 * Each case's time is cut into this many slices, interleaved with the other cases'. Ratios are the
 * median over rounds of the two cases' rates in that round: slices next to each other in time see
 * the same machine, and the median ignores a round that a burst of other load hit.
 */
const ROUNDS = 10;
/**
 * Rounds of a paired comparison, each one slice long. The figure of record for a feature's cost:
 * ten rounds keep the median steady to about ±2 % here.
 */
const PAIRED_ROUNDS = 10;
/** The case each mode is compared with besides direct: what injection and observers each add. */
const BASELINE: Readonly<Record<string, string>> = {
  'credproxy+inject': 'credproxy',
  'credproxy+audit+metrics': 'credproxy+inject',
  'credproxy+transparent': 'credproxy+audit+metrics',
};

interface CaseResult {
  name: string;
  connections: number;
  requests: number;
  errors: number;
  rps: number;
  /** Requests per second in each round. */
  roundRps: number[];
  p50: number;
  p99: number;
  cpuUsPerRequest: number | undefined;
  /** The proxy's main thread alone. */
  eventLoopUsPerRequest: number | undefined;
  upstreamCpuUsPerRequest: number;
  rssMb: number | undefined;
}

/** One side of the comparison: direct to the upstream, or through one proxy child. */
interface Contender {
  name: string;
  url: string;
  dispatcher(connections: number): Dispatcher;
  proxy: ProxyProcess | undefined;
}

/** What a case has gathered over its slices. */
interface Tally {
  latencies: number[];
  errors: number;
  seconds: number;
  roundRps: number[];
  proxyCpuUs: number;
  eventLoopCpuUs: number | undefined;
  upstreamCpuUs: number;
  rss: number | undefined;
}

async function main(): Promise<void> {
  const children = await buildBenchChildren();
  const dir = await mkdtemp(join(tmpdir(), 'credproxy-bench-'));
  const results: CaseResult[] = [];
  const paired: PairedResult[] = [];
  let firstRequest: string | undefined;
  let upstream: Upstream | undefined;
  const proxies: ProxyProcess[] = [];
  try {
    upstream = await startUpstream(children.dir, dir);
    const upstreamCa = await readFile(upstream.caPath, 'utf8');
    const contenders: Contender[] = [];
    if (MODES.includes('direct')) {
      contenders.push({
        name: 'direct',
        url: `https://127.0.0.1:${upstream.port}/v1/x`,
        proxy: undefined,
        dispatcher: (connections) => new Agent({ connections, connect: { ca: upstreamCa, servername: HOST } }),
      });
    }
    const builds = BASELINE_DIST
      ? ([
          ['', {}],
          [BASELINE_SUFFIX, { BENCH_DIST: BASELINE_DIST }],
        ] as const)
      : ([['', {}]] as const);
    for (const mode of MODES.filter((m) => m !== 'direct')) {
      for (const [suffix, env] of builds) {
        const name = `${mode}${suffix}`;
        const target = { host: HOST, upstreamPort: upstream.port, upstreamCaPath: upstream.caPath, dir: await mkdtemp(join(dir, `${mode}-`)) };
        const proxy = await startProxyProcess(mode, target, children.dir, env);
        proxies.push(proxy);
        contenders.push(
          proxy.transparent
            ? // What a kernel redirect delivers: a connection straight to the listener, the host in SNI.
              {
                name,
                url: `https://127.0.0.1:${proxy.port}/v1/x`,
                proxy,
                dispatcher: (connections) => new Agent({ connections, connect: { ca: proxy.caPem, servername: HOST } }),
              }
            : { name, url: `https://${HOST}/v1/x`, proxy, dispatcher: (connections) => proxyAgent(proxy, connections) },
        );
      }
    }
    for (const connections of CONCURRENCY) results.push(...(await runRounds(contenders, connections, upstream)));
    for (const connections of CONCURRENCY) {
      const pairs = BASELINE_DIST ? MODES.filter((m) => m !== 'direct').map((m) => [m, `${m}${BASELINE_SUFFIX}`] as const) : Object.entries(BASELINE);
      for (const [name, baseline] of pairs) {
        const on = contenders.find((c) => c.name === name);
        const off = contenders.find((c) => c.name === baseline);
        if (on && off) paired.push(await runPaired(off, on, connections));
      }
    }
    const credproxy = contenders.find((c) => c.name === 'credproxy')?.proxy;
    if (credproxy) firstRequest = await timeFirstRequests(credproxy);
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    upstream?.stop();
    await rm(dir, { recursive: true, force: true });
    await children.cleanup();
  }
  printTable(results);
  if (paired.length > 0) printPaired(paired);
  if (firstRequest) console.log(`\n${firstRequest}`);
}

/**
 * Every case at one concurrency, interleaved: ROUNDS rounds of one SECONDS/ROUNDS slice per case,
 * the order rotating each round, so a load change on the machine hits every case alike and the
 * ratios stay fair. All proxies stay up; only the one being measured gets traffic.
 */
async function runRounds(contenders: readonly Contender[], connections: number, upstream: Upstream): Promise<CaseResult[]> {
  const dispatchers = contenders.map((c) => c.dispatcher(connections));
  const tallies: Tally[] = contenders.map(() => ({
    latencies: [],
    errors: 0,
    seconds: 0,
    roundRps: [],
    proxyCpuUs: 0,
    eventLoopCpuUs: 0,
    upstreamCpuUs: 0,
    rss: undefined,
  }));
  // Warm-up: open the pool's connections (tunnels, leaf certificate, upstream pool), then let the JIT settle.
  for (const [i, c] of contenders.entries()) {
    await Promise.all(Array.from({ length: connections }, () => once(dispatchers[i]!, c.url, headersOf(c))));
    await load(connections, performance.now() + WARM_UP_MS, dispatchers[i]!, c.url, headersOf(c), undefined);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + round) % contenders.length;
      const contender = contenders[i]!;
      const { url, proxy } = contender;
      const tally = tallies[i]!;
      const before = await proxy?.stats();
      const upstreamBefore = await upstream.cpuUs();
      const started = performance.now();
      const done = tally.latencies.length;
      tally.errors += await load(connections, started + (SECONDS * 1000) / ROUNDS, dispatchers[i]!, url, headersOf(contender), tally.latencies);
      const seconds = (performance.now() - started) / 1000;
      tally.seconds += seconds;
      tally.roundRps.push((tally.latencies.length - done) / seconds);
      const after = await proxy?.stats();
      tally.upstreamCpuUs += (await upstream.cpuUs()) - upstreamBefore;
      if (before && after) {
        tally.proxyCpuUs += after.cpuUs - before.cpuUs;
        tally.eventLoopCpuUs = addDelta(tally.eventLoopCpuUs, before.eventLoopCpuUs, after.eventLoopCpuUs);
        tally.rss = after.rss;
      }
    }
  }
  await Promise.all(dispatchers.map((d) => d.close()));
  return contenders.map(({ name, proxy }, i) => {
    const { latencies, errors, seconds, roundRps, proxyCpuUs, eventLoopCpuUs, upstreamCpuUs, rss } = tallies[i]!;
    latencies.sort((a, b) => a - b);
    return {
      name,
      connections,
      requests: latencies.length,
      errors,
      rps: latencies.length / seconds,
      roundRps,
      p50: latencies[Math.floor(latencies.length * 0.5)] ?? NaN,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
      cpuUsPerRequest: proxy ? proxyCpuUs / latencies.length : undefined,
      eventLoopUsPerRequest: proxy && eventLoopCpuUs !== undefined ? eventLoopCpuUs / latencies.length : undefined,
      upstreamCpuUsPerRequest: upstreamCpuUs / latencies.length,
      rssMb: rss === undefined ? undefined : rss / 1048576,
    };
  });
}

/** A feature off vs on, both loaded at once. */
interface PairedResult {
  off: string;
  on: string;
  connections: number;
  /** on/off rps in each round. */
  ratios: number[];
  cpuUsPerRequest: [number, number];
  /** The proxies' main threads alone; undefined where the child cannot tell. */
  eventLoopUsPerRequest: [number, number] | undefined;
}

/**
 * Both cases loaded at the same time, `connections` each, by one generator: whatever else the
 * machine does hits both alike, so their rate ratio is far steadier than slices taken one after
 * the other (±2–6 % against ±15 % per round here). PAIRED_ROUNDS rounds of SECONDS / ROUNDS.
 */
async function runPaired(off: Contender, on: Contender, connections: number): Promise<PairedResult> {
  const pair = [off, on];
  const dispatchers = pair.map((c) => c.dispatcher(connections));
  await Promise.all(pair.map((c, i) => load(connections, performance.now() + WARM_UP_MS, dispatchers[i]!, c.url, headersOf(c), undefined)));
  const ratios: number[] = [];
  const cpu = [0, 0];
  const eventLoop: Array<number | undefined> = [0, 0];
  const requests = [0, 0];
  for (let round = 0; round < PAIRED_ROUNDS; round++) {
    const before = await Promise.all(pair.map((c) => c.proxy!.stats()));
    const counts = await Promise.all(
      pair.map(async (c, i) => {
        const latencies: number[] = [];
        await load(connections, performance.now() + (SECONDS * 1000) / ROUNDS, dispatchers[i]!, c.url, headersOf(c), latencies);
        return latencies.length;
      }),
    );
    const after = await Promise.all(pair.map((c) => c.proxy!.stats()));
    ratios.push(counts[1]! / counts[0]!);
    for (let i = 0; i < 2; i++) {
      cpu[i]! += after[i]!.cpuUs - before[i]!.cpuUs;
      requests[i]! += counts[i]!;
      eventLoop[i] = addDelta(eventLoop[i], before[i]!.eventLoopCpuUs, after[i]!.eventLoopCpuUs);
    }
  }
  await Promise.all(dispatchers.map((d) => d.close()));
  const perRequest = (totals: number[]): [number, number] => [totals[0]! / requests[0]!, totals[1]! / requests[1]!];
  return {
    off: off.name,
    on: on.name,
    connections,
    ratios,
    cpuUsPerRequest: perRequest(cpu),
    eventLoopUsPerRequest: eventLoop.every((us) => us !== undefined) ? perRequest(eventLoop as number[]) : undefined,
  };
}

function printPaired(results: PairedResult[]): void {
  console.log('\npaired: the two cases loaded at the same time (the steadier comparison of a feature off vs on)');
  console.table(
    results.map((r) => ({
      'off → on': `${r.off} → ${r.on}`,
      conns: `${r.connections} each`,
      'rps on / off': `${formatRatios(r.ratios)}`,
      'proxy CPU µs/req off → on': `${r.cpuUsPerRequest[0].toFixed(0)} → ${r.cpuUsPerRequest[1].toFixed(0)}`,
      'event loop µs/req off → on': r.eventLoopUsPerRequest ? `${r.eventLoopUsPerRequest[0].toFixed(0)} → ${r.eventLoopUsPerRequest[1].toFixed(0)}` : '-',
    })),
  );
}

/** What each request of a case carries: its proxy's headers (a stand-in when injecting), else the pass-through key. */
function headersOf(contender: Contender): Readonly<Record<string, string>> {
  return contender.proxy?.headers ?? PASS_THROUGH_HEADERS;
}

/** `connections` closed-loop clients until `deadline`; returns the error count. */
async function load(
  connections: number,
  deadline: number,
  dispatcher: Dispatcher,
  url: string,
  headers: Readonly<Record<string, string>>,
  latencies: number[] | undefined,
): Promise<number> {
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await once(dispatcher, url, headers);
        latencies?.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return errors;
}

/** First request to a never-seen host (new tunnel, leaf minted, new upstream pool) vs a new tunnel to a known host. */
async function timeFirstRequests(proxy: ProxyProcess): Promise<string> {
  const fresh: number[] = [];
  const cached: number[] = [];
  for (let i = 0; i < NEW_HOSTS; i++) {
    for (const sample of [fresh, cached]) {
      const agent = proxyAgent(proxy, 1);
      const t0 = performance.now();
      await once(agent, `https://h${i}.bench.test/v1/x`, PASS_THROUGH_HEADERS);
      sample.push(performance.now() - t0);
      await agent.close();
    }
  }
  const median = (xs: number[]): string => xs.sort((a, b) => a - b)[xs.length >> 1]!.toFixed(2);
  return (
    `credproxy first request on a new tunnel (median of ${NEW_HOSTS}): new host ${median(fresh)} ms, ` +
    `known host (cached leaf, pooled upstream) ${median(cached)} ms`
  );
}

function printTable(results: CaseResult[]): void {
  const find = (name: string, connections: number) => results.find((r) => r.name === name && r.connections === connections);
  const rows = results.map((r) => {
    const direct = find('direct', r.connections);
    const baseline = BASELINE[r.name];
    const versus = baseline === undefined ? undefined : find(baseline, r.connections);
    return {
      case: r.name,
      conns: r.connections,
      requests: r.requests,
      errors: r.errors,
      rps: r.rps.toFixed(0),
      'p50 ms': r.p50.toFixed(2),
      'p99 ms': r.p99.toFixed(2),
      'proxy CPU µs/req': r.cpuUsPerRequest?.toFixed(0) ?? '-',
      'event loop µs/req': r.eventLoopUsPerRequest?.toFixed(0) ?? '-',
      'upstream CPU µs/req': r.upstreamCpuUsPerRequest.toFixed(0),
      'proxy RSS MB': r.rssMb?.toFixed(0) ?? '-',
      'rps / direct': direct ? rateRatio(r, direct) : '-',
      'p50 / direct': direct ? (r.p50 / direct.p50).toFixed(2) : '-',
      'rps / baseline': versus ? `${rateRatio(r, versus)} vs ${baseline}` : '-',
    };
  });
  console.log(
    `proxy-vs-direct: ${SECONDS} s per case, loopback, compiled dist/ under node ${process.version}, ` +
      `load generator + proxy + upstream on the same machine (${availableParallelism()} cores), load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  console.table(rows);
  console.log("rps ratios: median over rounds of the two cases' rates in the same round (lowest–highest round)");
}

/** A running total plus one interval's growth; undefined once either end could not be read. */
function addDelta(total: number | undefined, before: number | undefined, after: number | undefined): number | undefined {
  return total === undefined || before === undefined || after === undefined ? undefined : total + after - before;
}

/** `a`'s rate over `b`'s, round by round: the median, then the range. */
function rateRatio(a: CaseResult, b: CaseResult): string {
  return formatRatios(a.roundRps.map((rps, round) => rps / b.roundRps[round]!));
}

/** The median of per-round ratios, then their range. */
function formatRatios(unsorted: readonly number[]): string {
  const ratios = [...unsorted].sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  return `${median.toFixed(2)} (${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)})`;
}

await main();
