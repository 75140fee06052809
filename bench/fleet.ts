// node --import tsx bench/fleet.ts — fleet mode's costs, on loopback, bounded in time and count.
// A throwaway PostgreSQL, a control plane and sidecars as real processes (the CLI bundled as the
// tests run it), a local HTTPS echo upstream. Prints:
//  1. bundle fetch time and sealed size for a sidecar holding 1,000 bindings;
//  2. rotation (rotate → new value served) and revocation (delete → 503) latency p50/p99 over 10 sidecars;
//  3. audit ingest rows/s into PostgreSQL through one control-plane replica;
//  4. per-request proxy cost, sidecar vs single daemon, both loaded at once (paired rounds).
// Never asserts. FLEET_BENCH_ROUNDS (default 10) rounds for 2 and 4; FLEET_BENCH_SLICE_MS (default 2000).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { stringify } from 'yaml';
import { writeFileSync, mkdirSync } from 'node:fs';
import { ControlClient } from '../src/sidecar/control-client.js';
import { SealedBoxKeyPair } from '../src/secrets/sealed-box.js';
import { INSERT_COLUMNS } from '../src/store/events.js';
import { spawnCli } from '../test/helpers/cli.js';
import { FLEET_API_KEY, FLEET_HOST, startFleet, type SidecarProcess } from '../test/helpers/harness/fleet.js';
import { readyLine, serveEnv, type UntypedJson } from '../test/helpers/harness/index.js';

const ROUNDS = Number(process.env.FLEET_BENCH_ROUNDS ?? 10);
const SLICE_MS = Number(process.env.FLEET_BENCH_SLICE_MS ?? 2000);
const SIDECARS = 10;
const CONNECTIONS = 16;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const median = (values: number[]) => quantile(values, 0.5);

/** utime + stime of a process (all its threads), in µs, from /proc. */
function processCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // clock ticks of 1/100 s (USER_HZ)
}

const fleet = await startFleet({ heartbeatMs: 1000, maxBundleAgeMs: 60_000 });
const api = fleet.api;
const ok = async (res: Promise<{ status: number; text: string }>) => {
  const r = await res;
  if (r.status >= 300) throw new Error(`${r.status} ${r.text}`);
  return r;
};

try {
  // 1. Bundle of 1,000 bindings: 10 secrets, 100 sandboxes of 10 bindings each, on sidecar "bulk".
  for (let s = 0; s < 10; s++)
    await ok(
      api('POST', '/secrets', {
        name: `bulk-${s}`,
        value: `bulk-value-${s}-${randomBytes(16).toString('hex')}`,
        auth: { type: 'bearer' },
        hosts: [FLEET_HOST],
      }),
    );
  const secrets = Object.fromEntries(Array.from({ length: 10 }, (_, s) => [`KEY_${s}`, `bulk-${s}`]));
  for (let i = 0; i < 100; i++) await ok(api('POST', '/sandboxes', { name: `bulk-${i}`, secrets, metadata: { credproxy_sidecar: 'bulk' } }));
  const bulk = (await api('POST', '/fleet/sidecars', { name: 'bulk' })).json.token as string;
  const keys = new SealedBoxKeyPair();
  const client = new ControlClient({ controlUrl: `http://${fleet.control.ready.admin}`, token: bulk, keys, streamIdleMs: 60_000 });
  const fetchMs: number[] = [];
  let bindings = 0;
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    const bundle = await client.bundle();
    fetchMs.push(performance.now() - start);
    bindings = bundle.sandboxes.reduce((n, s) => n + s.bindings.length, 0);
  }
  const sealedBytes = (
    await request(`http://${fleet.control.ready.admin}/fleet/bundle`, {
      headers: { authorization: `Bearer ${bulk}`, 'x-credproxy-sidecar-key': keys.publicKey },
    }).then((r) => r.body.arrayBuffer())
  ).byteLength;
  console.log(
    `bundle: ${bindings} bindings, ${(sealedBytes / 1024).toFixed(0)} KiB sealed, fetch+open p50 ${median(fetchMs).toFixed(1)} ms, p99 ${quantile(fetchMs, 0.99).toFixed(1)} ms (20 fetches)`,
  );

  // 2. Revocation latency over 10 sidecars: rotate, then each sidecar polls until it serves the new value.
  await ok(api('POST', '/secrets', { name: 'rev', value: 'rev-0', auth: { type: 'bearer' }, hosts: [FLEET_HOST] }));
  const sidecars: Array<{ sidecar: SidecarProcess; sandbox: { id: string; access_token: string; env: Record<string, string> } }> = [];
  for (let i = 0; i < SIDECARS; i++) {
    const sandbox = (await api('POST', '/sandboxes', { name: `rev-${i}`, secrets: { TOKEN: 'rev' }, metadata: { credproxy_sidecar: `s${i}` } })).json;
    // Shipping at its production interval, as a sidecar would run.
    sidecars.push({
      sidecar: await fleet.startSidecar(`s${i}`, { log: { level: 'warn' }, fleet: { maxBundleAgeMs: 60_000, shipIntervalMs: 1_000 } }),
      sandbox,
    });
  }
  let n = 0;
  const upstreamSaw = async (i: number) => {
    const path = `/rev/${i}/${++n}`;
    const { sidecar, sandbox } = sidecars[i]!;
    await sidecar.fetch(sandbox.access_token, path, { authorization: `Bearer ${sandbox.env.TOKEN}` });
    return fleet.upstream.seen.find((r) => r.url === path)?.headers.authorization;
  };
  const latencies: number[] = [];
  for (let round = 1; round <= ROUNDS * 2; round++) {
    const start = performance.now();
    await ok(api('PATCH', '/secrets/rev', { value: `rev-${round}` }));
    latencies.push(
      ...(await Promise.all(
        sidecars.map(async (_, i) => {
          // Polled every 5 ms: ten busy pollers would otherwise take the CPU the change has to travel on.
          for (let tries = 0; tries < 1000; tries++) {
            if ((await upstreamSaw(i)) === `Bearer rev-${round}`) return performance.now() - start;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          return Number.POSITIVE_INFINITY;
        }),
      )),
    );
  }
  console.log(
    `rotation (PATCH → new value served), ${SIDECARS} sidecars × ${ROUNDS * 2} rotations: p50 ${median(latencies).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (includes the PATCH round trip and the polling request)`,
  );

  // 2b. Revocation by delete: a fresh secret bound in every sidecar's sandbox, deleted; each sidecar polls for 503.
  const deleteLatencies: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const name = `del-${round}`;
    await ok(api('POST', '/secrets', { name, value: `del-value-${round}`, auth: { type: 'bearer' }, hosts: [FLEET_HOST] }));
    const standIns = await Promise.all(
      sidecars.map(async ({ sandbox }) => {
        await ok(api('POST', `/sandboxes/${sandbox.id}/secrets`, { env_key: `DEL_${round}`, secret_name: name }));
        return (await api('GET', `/sandboxes/${sandbox.id}`)).json.env[`DEL_${round}`] as string;
      }),
    );
    const served = (i: number) => sidecars[i]!.sidecar.fetch(sidecars[i]!.sandbox.access_token, '/del', { authorization: `Bearer ${standIns[i]}` });
    for (let i = 0; i < SIDECARS; i++) {
      for (let tries = 0; tries < 400 && (await served(i)).status !== 200; tries++) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const start = performance.now();
    await ok(api('DELETE', `/secrets/${name}`));
    deleteLatencies.push(
      ...(await Promise.all(
        sidecars.map(async (_, i) => {
          let last = '';
          for (let tries = 0; tries < 1000; tries++) {
            const res = await served(i);
            if (res.reason === 'credential_revoked') return performance.now() - start;
            last = `${res.status} ${res.reason ?? ''}`;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          console.log(`  delete round ${round}, sidecar ${i}: still ${last}`);
          return Number.POSITIVE_INFINITY;
        }),
      )),
    );
  }
  console.log(
    `revocation (DELETE → 503 credential_revoked), ${SIDECARS} sidecars × ${ROUNDS} deletes: p50 ${median(deleteLatencies).toFixed(1)} ms, p99 ${quantile(deleteLatencies, 0.99).toFixed(1)} ms, max ${Math.max(...deleteLatencies).toFixed(1)} ms`,
  );

  // 3. Audit ingest: 4 concurrent shippers of 500-row batches for 5 s into one control plane.
  const shipper = new ControlClient({ controlUrl: `http://${fleet.control.ready.admin}`, token: bulk, keys, streamIdleMs: 60_000 });
  const values: Record<string, unknown> = {
    kind: 'request',
    sandbox_id: 'sb',
    sandbox_name: 'bench',
    secret_id: 'sec',
    host: FLEET_HOST,
    method: 'GET',
    path: '/path',
    status: 200,
    upstream_status: 200,
    latency_ms: 3,
  };
  const rowOf = (id: number) => [id, ...INSERT_COLUMNS.map((c) => (c === 'ts' ? Date.now() : (values[c] ?? null)))];
  let nextId = 1;
  let shipped = 0;
  const ingestStart = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() - ingestStart < 5_000) {
        const rows = Array.from({ length: 500 }, () => rowOf(nextId++));
        await shipper.shipEvents({ instance: 'bench-ingest', rows });
        shipped += rows.length;
      }
    }),
  );
  console.log(
    `audit ingest: ${Math.round(shipped / ((performance.now() - ingestStart) / 1000))} rows/s into PostgreSQL through one replica (4 × 500-row batches in flight)`,
  );
  await Promise.all([client.close(), shipper.close()]);

  // 4. Per-request cost: a single daemon and a sidecar, same secret shape, loaded at once.
  const home = join(fleet.dir, 'standalone');
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, 'config.yaml'),
    stringify({ upstream: { resolve: [`${FLEET_HOST}:443=127.0.0.1:${fleet.upstream.port}`], caFile: fleet.upstreamPki.caPath }, log: { level: 'warn' } }),
  );
  const standalone = await spawnCli(['serve', '--config', join(home, 'config.yaml')], { env: { ...serveEnv(home), CREDPROXY_API_KEY: FLEET_API_KEY } });
  const standaloneReady = await readyLine(standalone);
  const local = async (method: string, path: string, body: unknown) =>
    (await request(`http://${standaloneReady.admin}${path}`, {
      method: method as 'POST',
      headers: { 'x-api-key': FLEET_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.body.json())) as UntypedJson;
  await local('POST', '/secrets', { name: 'rev', value: 'rev-standalone', auth: { type: 'bearer' }, hosts: [FLEET_HOST] });
  const localSandbox = await local('POST', '/sandboxes', { name: 'pair', secrets: { TOKEN: 'rev' } });
  const contenders = [
    { name: 'single daemon', pid: standalone.pid!, proxy: standaloneReady.proxy, ca: standaloneReady.ca, sandbox: localSandbox },
    {
      name: 'sidecar',
      pid: sidecars[0]!.sidecar.child.pid!,
      proxy: sidecars[0]!.sidecar.ready.proxy!,
      ca: sidecars[0]!.sidecar.ready.ca!,
      sandbox: sidecars[0]!.sandbox,
    },
  ].map((c) => ({
    ...c,
    agent: new ProxyAgent({
      uri: `http://${c.proxy}`,
      requestTls: { ca: readFileSync(c.ca, 'utf8') },
      token: `Basic ${Buffer.from(`sb:${c.sandbox.access_token}`).toString('base64')}`,
      connections: CONNECTIONS,
    }),
  }));
  const load = async (c: (typeof contenders)[number], until: number) => {
    let count = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < until) {
          const res = await request(`https://${FLEET_HOST}/bench`, { dispatcher: c.agent, headers: { authorization: `Bearer ${c.sandbox.env.TOKEN}` } });
          await res.body.dump();
          if (res.statusCode === 200) count++;
        }
      }),
    );
    return count;
  };
  await Promise.all(contenders.map((c) => load(c, performance.now() + 1000))); // warm-up
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const rates: number[][] = [[], []];
  const cpu: number[][] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    const until = performance.now() + SLICE_MS;
    const cpuBefore = contenders.map((c) => processCpuUs(c.pid));
    const counts = await Promise.all(contenders.map((c) => load(c, until)));
    const cpuUs = contenders.map((c, i) => (processCpuUs(c.pid) - cpuBefore[i]!) / counts[i]!);
    counts.forEach((count, i) => {
      rates[i]!.push(count / (SLICE_MS / 1000));
      cpu[i]!.push(cpuUs[i]!);
    });
    ratios.push(counts[1]! / counts[0]!);
    cpuRatios.push(cpuUs[1]! / cpuUs[0]!);
  }
  const range = (values: number[]) => `${median(values).toFixed(3)} [${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}]`;
  console.log(
    `per-request, paired (${CONNECTIONS} connections each, ${ROUNDS} rounds of ${SLICE_MS} ms): single daemon ${median(rates[0]!).toFixed(0)} rps / ${median(cpu[0]!).toFixed(0)} µs CPU a request, sidecar ${median(rates[1]!).toFixed(0)} rps / ${median(cpu[1]!).toFixed(0)} µs; sidecar/single rps ${range(ratios)}, CPU a request ${range(cpuRatios)}`,
  );
  await Promise.all(contenders.map((c) => c.agent.close()));
  standalone.kill('SIGTERM');
  await new Promise((resolve) => standalone.once('exit', resolve));
} finally {
  await fleet.close();
}
