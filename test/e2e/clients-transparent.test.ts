// The client matrix in transparent mode (issue #12 §1/§2, docs/operations.md §3): every client of
// the explicit matrix, and those no variable reaches (Python http.client and aiohttp, PHP streams, openai 4.x),
// runs with no proxy variable at all in a loopback-only network namespace where
// `credproxy iptables --apply` redirects it. The work happens in clients-transparent/scenario.ts;
// this file makes and removes the namespace and checks what the scenario saw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netnsUnavailable, runNetnsScenario } from '../helpers/netns.js';
import { missingTool } from '../helpers/sandbox-clients.js';

const SCENARIO_TIMEOUT_MS = 150_000;
const unavailable = netnsUnavailable();

/** Clients whose tool may be missing here (`.ci/run` installs them all), by the result key. */
const TOOLS: Record<string, [string, string]> = {
  wget: ['wget', 'wget'],
  go: ['go', 'golang-go'],
  ruby: ['ruby', 'ruby'],
  'php-curl': ['php', 'php-cli'],
  'php-streams': ['php', 'php-cli'],
  java: ['java', 'openjdk-17-jdk-headless'],
};
const OPENAI_PATHS: Record<string, string> = { openai: '/v1/models?c=t-openai', 'openai-v4': '/v1/models?c=t-openai-v4' };

test('transparent mode: every client of the matrix, no proxy variable, swapped', { skip: unavailable, timeout: SCENARIO_TIMEOUT_MS + 10_000 }, async (t) => {
  const r = (await runNetnsScenario(t, ['127.0.0.3 api.openai.com api.anthropic.com github.com'], 'test/e2e/clients-transparent/scenario.ts', {
    owner: 'clients',
    timeoutMs: SCENARIO_TIMEOUT_MS,
  })) as {
    apply: { code: number; stderr: string };
    remove: { code: number };
    ran: Record<string, { code: number; stdout: string; stderr: string }>;
    standIns: Record<string, string>;
    real: Record<string, string>;
    leaks: string[];
    upstreamSaw: Array<{ url: string; authorization?: string; 'x-api-key'?: string }>;
  };
  assert.equal(r.apply.code, 0, r.apply.stderr);
  assert.deepEqual(r.leaks, [], 'no real value in any client output or the daemon log');
  const saw = new Map(r.upstreamSaw.map((e) => [e.url, e]));

  for (const [name, ran] of Object.entries(r.ran)) {
    const tool = TOOLS[name];
    const missing = tool && missingTool(tool[0], tool[1]);
    if (missing) {
      t.diagnostic(`${name} skipped: ${missing}`);
      continue;
    }
    if (name === 'git') {
      assert.equal(ran.code, 0, `git clone through the transparent listener: ${ran.stderr}`);
      continue;
    }
    assert.equal(ran.code, 0, `${name}: ${ran.stdout}\n${ran.stderr}`);
    if (name.startsWith('anthropic')) {
      const seen = saw.get(`/v1/messages?c=t-${name}`);
      assert.ok(ran.stdout.includes(r.standIns.ANTHROPIC_API_KEY!), `${name} sees its stand-in echoed`);
      const header = name === 'anthropic-1' ? seen?.authorization : seen?.['x-api-key'];
      assert.equal(header, name === 'anthropic-1' ? `Bearer ${r.real.anthropic}` : r.real.anthropic, `${name}: the upstream got the real value`);
      continue;
    }
    assert.ok(ran.stdout.includes(r.standIns.OPENAI_API_KEY!), `${name} sees its stand-in echoed: ${ran.stdout.slice(0, 300)}`);
    assert.equal(saw.get(OPENAI_PATHS[name] ?? `/v1/t-${name}`)?.authorization, `Bearer ${r.real.openai}`, `${name}: the upstream got the real value`);
  }
  assert.equal(r.remove.code, 0);
});
