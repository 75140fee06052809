import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request, type Dispatcher } from 'undici';
import { proxyAgent } from '../helpers/clients.js';
import { createTestPki } from '../helpers/pki.js';
import { startUpstream } from '../helpers/upstream.js';
import { adminClient, harnessDir } from '../helpers/harness/index.js';
import { proxyPort, rssMiB, spawnDaemon } from './support.js';

/** 20 s in npm test; CREDPROXY_SOAK_SECONDS=60 for the issue's full soak. */
const SECONDS = Number(process.env.CREDPROXY_SOAK_SECONDS ?? 20);
/** Requests started per second, whatever their kind. */
const RATE = 60;

test(`soak: ${SECONDS} s of mixed load at ${RATE} req/s, no RSS growth after warm-up`, { timeout: (SECONDS + 40) * 1000 }, async () => {
  const dir = harnessDir('soak');
  const pki = await createTestPki('soak-upstream');
  const upstream = await startUpstream({ pki });
  const plain = await startUpstream();
  const apiKey = randomBytes(24).toString('hex');
  const daemon = await spawnDaemon(dir, {
    apiKey,
    upstreamCa: pki.caPath,
    resolve: [`soak.test:443=127.0.0.1:${upstream.port}`, `other.test:443=127.0.0.1:${upstream.port}`, `soak.test:80=127.0.0.1:${plain.port}`],
  });
  const agents: Dispatcher[] = [];
  try {
    const adminUrl = `http://${daemon.ready.admin}`;
    const { api } = adminClient(() => adminUrl, apiKey);
    await api('POST', '/secrets', { name: 'soak', value: 'REAL-soak-value-77', auth: { type: 'bearer' }, hosts: ['soak.test'] });
    const sandbox = (await api('POST', '/sandboxes', { name: 'soak', secrets: { TOKEN: 'soak' } })).json;
    const caPem = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const agent = proxyAgent(proxyPort(daemon), caPem, { token: `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}` });
    agents.push(agent);
    const bearer = { authorization: `Bearer ${sandbox.env.TOKEN}` };

    const kinds: Array<() => Promise<number>> = [
      async () => await request('https://soak.test/inject', { dispatcher: agent, headers: bearer }).then(drain),
      async () => await request('https://soak.test/download?bytes=200000', { dispatcher: agent }).then(drain),
      async () => await request('https://other.test/refused', { dispatcher: agent, headers: bearer }).then(drain),
      async () => await request('http://soak.test/plain', { dispatcher: agent }).then(drain),
      async () => await request(`${adminUrl}/secrets/soak/audit?limit=20`, { headers: { 'x-api-key': apiKey } }).then(drain),
      async () => {
        // A fresh tunnel per request now and then: connection setup and teardown too.
        const fresh = proxyAgent(proxyPort(daemon), caPem, { token: `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}` });
        try {
          return await request('https://soak.test/fresh', { dispatcher: fresh, headers: bearer }).then(drain);
        } finally {
          await fresh.close();
        }
      },
    ];
    const expected = [200, 200, 403, 200, 200, 200];
    const failures: string[] = [];
    const samples: number[] = [];
    /** The daemon's own heap (from its /metrics), to tell a leak from allocator slack. */
    const heap: Array<Promise<number>> = [];
    const inflight = new Set<Promise<void>>();
    const started = Date.now();
    let n = 0;
    let nextSample = started;
    while (Date.now() - started < SECONDS * 1000) {
      const kind = n++ % kinds.length;
      const job = kinds[kind]!()
        .then(
          (status) => {
            if (status !== expected[kind]) failures.push(`kind ${kind}: ${status}`);
          },
          (err: Error) => {
            failures.push(`kind ${kind}: ${err.message}`);
          },
        )
        .finally(() => inflight.delete(job));
      inflight.add(job);
      if (Date.now() >= nextSample) {
        samples.push(rssMiB(daemon.child.pid!));
        nextSample += 1000;
        heap.push(heapUsedMiB(adminUrl));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 / RATE));
    }
    await Promise.all(inflight);

    const third = Math.floor(samples.length / 3);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const middle = mean(samples.slice(third, 2 * third));
    const last = mean(samples.slice(2 * third));
    const heaps = await Promise.all(heap);
    process.stdout.write(
      `# soak: ${n} requests in ${SECONDS} s, rss MiB ${samples.map((s) => s.toFixed(0)).join(' ')}; ` +
        `middle third ${middle.toFixed(1)}, last third ${last.toFixed(1)}; heap used MiB ${heaps.map((h) => h.toFixed(0)).join(' ')}\n`,
    );
    assert.deepEqual(failures.slice(0, 5), []);
    // V8 defers major GCs: heap and RSS climb for ~30 s, then fall back (measured over 40 s: heap
    // 28→59→26 MiB, rss 163→117 MiB at the first major GC), so the bound allows one climb.
    assert.ok(last <= middle * 1.15 + 16, `RSS grew from ${middle.toFixed(1)} to ${last.toFixed(1)} MiB`);
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await daemon.stop();
    await upstream.close();
    await plain.close();
    await pki.remove();
  }
});

async function drain(res: Dispatcher.ResponseData): Promise<number> {
  await res.body.dump();
  return res.statusCode;
}

async function heapUsedMiB(adminUrl: string): Promise<number> {
  const res = await request(`${adminUrl}/metrics`);
  const text = await res.body.text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]) / 1024 / 1024;
}
