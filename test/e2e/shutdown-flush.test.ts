import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { ProxyAgent, request } from 'undici';
import { spawnCli } from '../helpers/cli.js';
import { harnessDir, readyLine, serveEnv, startDaemon, type UntypedJson } from '../helpers/harness/index.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * The audit log's durability through the real `credproxy serve` process: rows of requests that
 * finished before SIGTERM are in the database after exit 0, and a full queue drops (and counts)
 * rows instead of slowing the proxy down.
 */

const API_KEY = 'shutdown-flush-admin-key-0123456789';
const REAL = 'REAL-shutdown-value-31f0c2';

let pki: TestPki;
let upstream: TestUpstream;

before(async () => {
  pki = await createTestPki('shutdown-upstream');
  upstream = await startUpstream({ pki });
});

after(async () => {
  await upstream.close();
  await pki.remove();
});

test('after SIGTERM every finished request has its row in the database, and the exit code is 0', async () => {
  const dir = harnessDir('shutdown');
  const child = await spawnCli(['serve'], {
    cwd: dir,
    env: {
      ...serveEnv(dir),
      CREDPROXY_API_KEY: API_KEY,
      CREDPROXY_RESOLVE: `api.example.test:443=127.0.0.1:${upstream.port},evil.test:443=127.0.0.1:${upstream.port}`,
      CREDPROXY_UPSTREAM_CA: pki.caPath,
      CREDPROXY_LOG_LEVEL: 'info',
    },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 25_000);
  let client: ProxyAgent | undefined;
  try {
    const ready = await readyLine(child);
    const admin = (method: string, path: string, body?: unknown) =>
      request(`http://${ready.admin}${path}`, {
        method: method as 'GET',
        headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      }).then(async (res) => ({ status: res.statusCode, json: (await res.body.json()) as UntypedJson }));
    assert.equal((await admin('POST', '/secrets', { name: 'alpha', value: REAL, auth: { type: 'bearer' }, hosts: ['api.example.test'] })).status, 201);
    const sandbox = (await admin('POST', '/sandboxes', { name: 'flush', secrets: { ALPHA: 'alpha' } })).json;

    client = new ProxyAgent({
      uri: `http://${ready.proxy}`,
      requestTls: { ca: readFileSync(ready.ca, 'utf8') },
      token: `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}`,
      connections: 3,
    });
    const n = 60;
    const statuses = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await request(i % 5 === 4 ? `https://evil.test/flush/${i}` : `https://api.example.test/flush/${i}`, {
          dispatcher: client,
          headers: { authorization: `Bearer ${sandbox.env.ALPHA}` },
        });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    // Right after the last response, well inside the 1 s flush interval.
    child.kill('SIGTERM');
    assert.equal(statuses.filter((s) => s === 200).length, 48);
    assert.equal(statuses.filter((s) => s === 403).length, 12);
    assert.equal(await exited, 0, stderr);

    const db = new Database(join(dir, 'data', 'credproxy.db'), { readonly: true, fileMustExist: true });
    try {
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      assert.equal(count(`SELECT count(*) AS n FROM event_rows WHERE kind = 'request' AND sandbox_id = '${sandbox.id}'`), n);
      assert.equal(count(`SELECT count(*) AS n FROM event_rows WHERE kind = 'request' AND status = 200 AND upstream_status = 200`), 48);
      assert.equal(count(`SELECT count(*) AS n FROM event_rows WHERE kind = 'request' AND error_code = 'credential_host_mismatch'`), 12);
      // The client's tunnels (up to 3 per host), closed by the daemon while draining, are recorded too.
      const tunnels = db.prepare(`SELECT host, verdict, bytes_sent, bytes_recv FROM event_rows WHERE kind = 'connection'`).all() as UntypedJson[];
      for (const host of ['api.example.test', 'evil.test']) {
        const mine = tunnels.filter((r) => r.host === host);
        assert.ok(mine.length >= 1 && mine.length <= 3, `${host}: ${mine.length} tunnel rows`);
      }
      assert.ok(
        tunnels.every((r) => r.verdict === 'allowed' && r.bytes_sent > 0 && r.bytes_recv > 0),
        JSON.stringify(tunnels),
      );
      const lastUsed = db.prepare('SELECT last_used_at FROM secrets WHERE name = ?').get('alpha') as { last_used_at: string | null };
      assert.ok(lastUsed.last_used_at, 'last_used_at written on shutdown');
      const dump = JSON.stringify(db.prepare('SELECT * FROM event_rows').all());
      assert.ok(!dump.includes(REAL) && !dump.includes(sandbox.env.ALPHA), 'no credential or stand-in in the rows');
    } finally {
      db.close();
    }
  } finally {
    clearTimeout(kill);
    await client?.close().catch(() => undefined);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('a full audit queue drops and counts rows; the proxy keeps serving', async () => {
  const d = await startDaemon({
    flags: {
      'upstream.resolve': [`api.example.test:443=127.0.0.1:${upstream.port}`],
      'upstream.caFile': pki.caPath,
      'audit.queueSize': 10,
      'audit.flushIntervalMs': 1000,
      'log.level': 'info',
    },
  });
  const sandbox = (await d.api('POST', '/sandboxes', { name: 'burst' })).json;
  const client = new ProxyAgent({
    uri: `http://${d.daemon.proxyAddress}`,
    requestTls: { ca: readFileSync(d.daemon.caPath, 'utf8') },
    token: `Basic ${Buffer.from(`sb:${sandbox.access_token}`).toString('base64')}`,
    connections: 4,
  });
  const dropped = async () => {
    const text = (await d.api('GET', '/metrics')).text;
    return Number(/^credproxy_audit_dropped_total (\d+)$/m.exec(text)?.[1]);
  };
  try {
    assert.equal(await dropped(), 0);
    let total = 0;
    // A burst far above the queue within one flush interval; repeated (bounded) in case a flush
    // happened to land in the middle of one.
    for (let burst = 0; burst < 5 && (await dropped()) === 0; burst++) {
      const statuses = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const res = await request(`https://api.example.test/burst/${burst}/${i}`, { dispatcher: client });
          await res.body.dump();
          return res.statusCode;
        }),
      );
      assert.ok(
        statuses.every((s) => s === 200),
        'every request is served although rows are dropped',
      );
      total += statuses.length;
    }
    const lost = await dropped();
    assert.ok(lost > 0, 'rows were dropped and counted');
    assert.ok(lost < total, 'the queue kept what fit');
    const depth = Number(/^credproxy_audit_queue_depth (\d+)$/m.exec((await d.api('GET', '/metrics')).text)?.[1]);
    assert.ok(depth <= 10, `queue depth ${depth} never exceeds audit.queueSize`);
  } finally {
    await client.close();
    await d.close();
  }
});
