import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { proxyAgent } from '../helpers/clients.js';
import { createTestPki } from '../helpers/pki.js';
import { startUpstream } from '../helpers/upstream.js';
import type { SandboxSecretBinding } from '../../src/sdk/types.js';
import { adminClient, harnessDir } from '../helpers/harness/index.js';
import { proxyPort, spawnDaemon } from './support.js';

const WRITERS = 3;
const LOAD_CLIENTS = 2;
/** How long writes and requests run before the kill. */
const KILL_AFTER_MS = 1500;

interface Acked {
  secret: string;
  value: string;
  sandboxId?: string;
  token?: string;
  standIn?: string;
}

test('kill -9 during writes and requests: database intact, CA unchanged, every acknowledged write kept, stand-ins still inject', async () => {
  const dir = harnessDir('crash');
  const pki = await createTestPki('crash-upstream');
  const upstream = await startUpstream({ pki });
  const apiKey = randomBytes(24).toString('hex');
  const options = { apiKey, resolve: [`crash.test:443=127.0.0.1:${upstream.port}`], upstreamCa: pki.caPath };
  let daemon = await spawnDaemon(dir, options);
  const { api } = adminClient(() => `http://${daemon.ready.admin}`, apiKey);
  try {
    const caHash = createHash('sha256')
      .update(readFileSync(join(dir, 'certs', 'ca.crt')))
      .digest('hex');
    const caPem = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const acked: Acked[] = [];
    let killed = false;

    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !killed; i++) {
        const entry: Acked = { secret: `s_${w}_${i}`, value: `REAL-crash-${w}-${i}-${randomBytes(4).toString('hex')}` };
        try {
          const secret = await api('POST', '/secrets', {
            name: entry.secret,
            value: entry.value,
            auth: { type: 'bearer' },
            hosts: ['crash.test'],
          });
          if (secret.status !== 201) continue;
          acked.push(entry);
          const sandbox = await api('POST', '/sandboxes', { name: `sb_${w}_${i}`, secrets: { TOKEN: entry.secret } });
          if (sandbox.status !== 201) continue;
          Object.assign(entry, { sandboxId: sandbox.json.id, token: sandbox.json.access_token, standIn: sandbox.json.env.TOKEN });
        } catch {
          return; // the daemon is gone
        }
      }
    };
    const agents = new Map<string, ReturnType<typeof proxyAgent>>();
    const load = async (): Promise<number> => {
      let sent = 0;
      while (!killed) {
        const target = acked.findLast((a) => a.token !== undefined);
        if (!target) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        let agent = agents.get(target.token!);
        if (!agent) {
          agent = proxyAgent(proxyPort(daemon), caPem, { token: `Basic ${Buffer.from(`sb:${target.token}`).toString('base64')}` });
          agents.set(target.token!, agent);
        }
        try {
          const res = await request('https://crash.test/load', { dispatcher: agent, headers: { authorization: `Bearer ${target.standIn}` } });
          await res.body.text();
          sent++;
        } catch {
          // in flight at the kill
        }
      }
      return sent;
    };
    const work = Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), ...Array.from({ length: LOAD_CLIENTS }, load)]);
    await new Promise((resolve) => setTimeout(resolve, KILL_AFTER_MS));
    await daemon.kill();
    killed = true;
    const sent = (await work).slice(WRITERS) as number[];
    await Promise.all([...agents.values()].map((agent) => agent.destroy()));
    assert.ok(acked.length >= 5, `too few writes before the kill: ${acked.length}`);

    daemon = await spawnDaemon(dir, options);
    const db = new Database(join(dir, 'data', 'credproxy.db'), { readonly: true, fileMustExist: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(dir, 'certs', 'ca.crt')))
        .digest('hex'),
      caHash,
      'the CA is unchanged',
    );

    for (const entry of acked) {
      assert.equal((await api('GET', `/secrets/${entry.secret}`)).status, 200, `secret ${entry.secret} survived`);
      if (entry.sandboxId === undefined) continue;
      const sandbox = await api('GET', `/sandboxes/${entry.sandboxId}`);
      assert.equal(sandbox.status, 200, `sandbox ${entry.sandboxId} survived`);
      assert.deepEqual(
        sandbox.json.secrets.map((s: SandboxSecretBinding) => s.secret_name),
        [entry.secret],
      );
      assert.equal(sandbox.json.env.TOKEN, entry.standIn);
    }
    const bound = acked.filter((a) => a.token !== undefined);
    for (const entry of bound.slice(-10)) {
      const agent = proxyAgent(proxyPort(daemon), caPem, { token: `Basic ${Buffer.from(`sb:${entry.token}`).toString('base64')}` });
      try {
        const res = await request('https://crash.test/after', { dispatcher: agent, headers: { authorization: `Bearer ${entry.standIn}` } });
        await res.body.text();
        assert.equal(res.statusCode, 200);
        assert.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${entry.value}`);
      } finally {
        await agent.close();
      }
    }
    process.stdout.write(
      `# crash: ${acked.length} secrets and ${bound.length} sandboxes acknowledged, ${sent.reduce((a, b) => a + b, 0)} proxied requests before kill -9\n`,
    );
  } finally {
    await daemon.stop();
    await upstream.close();
    await pki.remove();
  }
});
