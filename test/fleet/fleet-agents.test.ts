import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ProxyAgent, request } from 'undici';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startDaemon, type TestDaemon } from '../helpers/harness/index.js';
import { FLEET_API_KEY, FLEET_HOST, startFleet, within, type Fleet, type SidecarProcess } from '../helpers/harness/fleet.js';
import { postgresSkipReason } from '../helpers/postgres.js';

// The agents API (docs/contract.md#agent-api) on a fleet control plane: `credproxy secrets` and
// `credproxy run` against its URL, answers and errors byte for byte as a single daemon's, and a
// sidecar serving the agent's sandbox swaps its stand-in, rotation and delete included. Real
// processes: PostgreSQL, the control plane, a sidecar, the CLI, an HTTPS upstream on loopback.

const skip = postgresSkipReason();
const AGENT = 'fleet-agent';
const PROVIDER_HOST = 'api.anthropic.com';

let fleet: Fleet;
let daemon: TestDaemon;
let sidecar: SidecarProcess;
const agents: ProxyAgent[] = [];

before(async () => {
  if (skip) return;
  [fleet, daemon] = await Promise.all([startFleet(), startDaemon()]);
  // The agent's Anthropic key only goes to api.anthropic.com: the sidecar reaches the local upstream under that name.
  sidecar = await fleet.startSidecar('node-a', {
    upstream: {
      resolve: [`${FLEET_HOST}:443=127.0.0.1:${fleet.upstream.port}`, `${PROVIDER_HOST}:443=127.0.0.1:${fleet.upstream.port}`],
      caFile: fleet.upstreamPki.caPath,
    },
  });
});

after(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await fleet?.close();
  await daemon?.close();
});

const controlEnv = () => ({ CREDPROXY_URL: `http://${fleet.control.ready.admin}`, CREDPROXY_API_KEY: FLEET_API_KEY });
const daemonEnv = () => ({ CREDPROXY_URL: `http://${daemon.daemon.adminAddress}`, CREDPROXY_API_KEY: daemon.daemon.apiKey });
const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env: controlEnv(), input });

/** `credproxy run <agent> [flags] -- node` printing the environment it was given. */
async function runEnv(env: Record<string, string>, ...flags: string[]): Promise<{ result: CliResult; env: Record<string, string> }> {
  const result = await runCli(['run', AGENT, ...flags, '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'], { env });
  return { result, env: result.code === 0 ? (JSON.parse(result.stdout) as Record<string, string>) : {} };
}

let n = 0;
/** A request to api.anthropic.com through the sidecar as the agent's sandbox; what the upstream got as x-api-key. */
async function throughSidecar(proxyUrl: string, standIn: string): Promise<{ status: number; upstreamSaw: string | undefined }> {
  const { username, password } = new URL(proxyUrl);
  const agent = new ProxyAgent({
    uri: `http://${sidecar.ready.proxy}`,
    requestTls: { ca: readFileSync(sidecar.ready.ca!, 'utf8') },
    token: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
  });
  agents.push(agent);
  const path = `/v1/messages/${++n}`;
  try {
    const res = await request(`https://${PROVIDER_HOST}${path}`, { dispatcher: agent, headers: { 'x-api-key': standIn } });
    await res.body.text();
    return { status: res.statusCode, upstreamSaw: fleet.upstream.seen.find((r) => r.url === path)?.headers['x-api-key'] as string | undefined };
  } catch (err) {
    const refused = /Proxy response \((\d{3})\)/.exec((err as Error).message);
    if (!refused) throw err;
    return { status: Number(refused[1]), upstreamSaw: undefined };
  }
}

test('credproxy secrets set, list and delete against a control plane print what they print against a daemon', { skip }, async () => {
  const steps: Array<[string[], string?]> = [
    [['secrets', 'set', 'parity', 'OPENAI_API_KEY=sk-REAL-parity', 'DATABASE_URL=postgresql://u:p@h/db']],
    [['secrets', 'list', 'parity']],
    [['secrets', 'list', 'parity', '--json']],
    [['secrets', 'set', 'parity', 'bad key=1']],
    [['secrets', 'delete', 'parity', 'NOPE', '-y']],
    [['secrets', 'delete', 'parity', 'DATABASE_URL'], 'y\n'],
    [['secrets', 'list', 'nobody']],
    [['secrets', 'delete', 'parity', 'OPENAI_API_KEY', '-y']],
    [['secrets', 'list', 'parity']],
  ];
  for (const [args, input] of steps) {
    const [onControl, onDaemon] = await Promise.all([cli(args, input), runCli(args, { env: daemonEnv(), input })]);
    assert.deepEqual(onControl, onDaemon, `credproxy ${args.join(' ')}`);
  }
});

test("the agents API answers with the single daemon's statuses and bodies, errors included", { skip }, async () => {
  const calls: Array<[string, string, unknown?]> = [
    ['PATCH', '/v1/agents/wire/secrets', { secrets: { GITHUB_TOKEN: 'ghp_REAL', PLAIN: 'p' } }],
    ['GET', '/v1/agents/wire/secrets'],
    ['PATCH', '/v1/agents/wire/secrets', { secrets: { 'bad-key': 'x' } }],
    ['PATCH', '/v1/agents/wire/secrets', { secrets: { GITHUB_TOKEN: '' } }],
    ['PATCH', '/v1/agents/wire/secrets', { secrets: ['x'] }],
    ['PATCH', '/v1/agents/Not%20A%20Name/secrets', { secrets: { A: 'b' } }],
    ['GET', '/v1/agents/missing/secrets'],
    ['DELETE', '/v1/agents/wire/secrets/NONE'],
    ['DELETE', '/v1/agents/missing/secrets/A'],
    ['PUT', '/v1/agents/needs', { name: 'needs', command: 'node agent.js', secrets: ['ANTHROPIC_API_KEY', 'OTHER'] }],
    ['POST', '/v1/agents/needs/run'],
    ['PUT', '/v1/agents/needs', { name: 'wire', command: null, secrets: [] }],
    ['DELETE', '/v1/agents/wire/secrets/PLAIN'],
    ['DELETE', '/v1/agents/needs'],
    ['GET', '/v1/agents/needs'],
  ];
  const shape = (r: { status: number; json: unknown }) => ({ status: r.status, body: stripVolatile(r.json) });
  for (const [method, path, body] of calls) {
    const [onControl, onDaemon] = await Promise.all([fleet.api(method, path, body), daemon.api(method, path, body)]);
    assert.deepEqual(shape(onControl), shape(onDaemon), `${method} ${path}`);
  }
  const unauthorized = async (base: string) => {
    const res = await request(`${base}/v1/agents/wire/secrets`);
    return { status: res.statusCode, body: await res.body.json() };
  };
  assert.deepEqual(await unauthorized(`http://${fleet.control.ready.admin}`), await unauthorized(`http://${daemon.daemon.adminAddress}`));
});

/** Ids and timestamps differ between two stores; everything else must not. */
function stripVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripVolatile);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ['id', 'created_at', 'updated_at'].includes(k) ? typeof v : stripVolatile(v)]));
}

test(
  "credproxy run against a control plane: the sidecar serving the agent's sandbox swaps its stand-in, then rotation and delete reach it",
  { skip },
  async () => {
    const set = await cli(['secrets', 'set', AGENT, 'ANTHROPIC_API_KEY=sk-ant-REAL-v1', 'DATABASE_URL=postgresql://u:p@h/db']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, `✓ Set 2 secret(s) for agent '${AGENT}'\nCurrent secrets: ANTHROPIC_API_KEY, DATABASE_URL\n`);

    const { result, env } = await runEnv(controlEnv(), '--sidecar', 'node-a');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(env.DATABASE_URL, 'postgresql://u:p@h/db', 'a plain key is handed over as is');
    const standIn = env.ANTHROPIC_API_KEY!;
    assert.match(standIn, /^sk-ant-api03-/);
    assert.ok(!result.stdout.includes('sk-ant-REAL'), 'the real key never reaches the agent');
    const proxyUrl = env.HTTPS_PROXY!;

    // The sandbox was created on node-a; the sidecar hears of it through the change stream.
    await within("the agent's sandbox at node-a", 5_000, async () => (await throughSidecar(proxyUrl, standIn)).status === 200);
    assert.deepEqual(await throughSidecar(proxyUrl, standIn), { status: 200, upstreamSaw: 'sk-ant-REAL-v1' });

    // A second run reuses the sandbox (same stand-in); asking for another sidecar is refused.
    const again = await runEnv(controlEnv());
    assert.equal(again.env.ANTHROPIC_API_KEY, standIn);
    const elsewhere = await fleet.api('POST', `/v1/agents/${AGENT}/run`, { sidecar: 'node-b' });
    assert.equal(elsewhere.status, 409);
    assert.deepEqual(elsewhere.json, {
      status: 409,
      detail: "The agent's sandbox is served by sidecar 'node-a'",
      details: { sandbox_id: elsewhere.json.details.sandbox_id, sidecar: 'node-a' },
    });

    const rotated = await cli(['secrets', 'set', AGENT, 'ANTHROPIC_API_KEY=sk-ant-REAL-v2']);
    assert.equal(rotated.code, 0, rotated.stderr);
    await within('the rotated key at node-a', 3_000, async () => (await throughSidecar(proxyUrl, standIn)).upstreamSaw === 'sk-ant-REAL-v2');

    const deleted = await cli(['secrets', 'delete', AGENT, 'ANTHROPIC_API_KEY', '-y']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `✓ Deleted secret 'ANTHROPIC_API_KEY' from agent '${AGENT}'\nRemaining secrets: DATABASE_URL\n`);
    await within('the delete at node-a', 1_000, async () => (await throughSidecar(proxyUrl, standIn)).status !== 200);
    const after = await throughSidecar(proxyUrl, standIn);
    assert.notEqual(after.status, 200);
    assert.equal(after.upstreamSaw, undefined, 'a deleted key is never forwarded');

    assert.ok(!fleet.allOutput().includes('sk-ant-REAL'), 'no process logged the real key');
  },
);
