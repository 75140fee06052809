import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyRejection } from '../../../src/errors.js';
import { admit, ConnectionRecord, type Identify } from '../../../src/proxy/admission.js';
import type { DataPlane } from '../../../src/proxy/connection.js';
import { EgressGuard } from '../../../src/proxy/egress.js';
import { ProxyEvents, type ConnectionEvent } from '../../../src/proxy/events.js';
import { RuleTable } from '../../../src/rules/rule-table.js';
import { StandInPolicy } from '../../../src/rules/stand-in-policy.js';
import { memoryLogger } from '../../helpers/event-rows.js';
import { MemoryRuleSource } from '../../helpers/memory-rule-source.js';

// The admission stage on its own: the real policy and egress guard, DNS answered from a table,
// no socket opened anywhere.

const DNS: Record<string, string[]> = { 'api.example.test': ['93.184.216.34'], 'internal.example.test': ['10.0.0.5'] };

function stage() {
  const source = new MemoryRuleSource();
  const sandbox = source.addSandbox({ network: { deny_out: ['blocked.example.test'] } });
  const table = new RuleTable(source);
  const identity = table.identityForToken(sandbox.accessToken)!;
  const events = new ProxyEvents();
  const rows: ConnectionEvent[] = [];
  events.on('connection', (row) => rows.push(row));
  const lookup = async (host: string) => {
    const answers = DNS[host];
    if (!answers) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address }));
  };
  // Admission reads only the policy, the guard, the events and the loggers of the data plane.
  const plane = {
    policy: new StandInPolicy(table, { requireAuth: true }),
    guard: new EgressGuard({ overrides: [], allowPrivateNetworks: false, protectedAddresses: () => [], lookup }),
    events,
    logger: memoryLogger().logger,
    accessLog: undefined,
  } as Partial<DataPlane> as DataPlane;
  const run = async (host: string, identify: Identify = () => identity) => {
    const record = new ConnectionRecord(plane, host, 443, true);
    const outcome = await admit(plane, 'connect', record, identify, host, 443).then(
      (admission) => admission,
      (err: unknown) => err,
    );
    record.emit(10, 20);
    return { outcome, record, row: rows.at(-1)! };
  };
  return { run, identity };
}

test('admitted: the identity and the address the guard approved, an allowed row with its reason', async () => {
  const { run, identity } = stage();
  const { outcome, row } = await run('api.example.test');
  assert.deepEqual(outcome, { identity, egress: { ip: '93.184.216.34', port: 443, reason: 'public 93.184.216.34' } });
  assert.equal(row.verdict, 'allowed');
  assert.equal(row.matchRule, 'public 93.184.216.34');
  assert.equal(row.dstIp, '93.184.216.34');
  assert.equal(row.sandboxId, identity.sandboxId);
  assert.equal(row.errorCode, undefined);
  assert.deepEqual([row.bytesSent, row.bytesRecv], [10, 20]);
});

test('each refusal is recorded as blocked (failed when unreachable) and rethrown with its code', async () => {
  const { run } = stage();
  const cases: Array<[string, Identify | undefined, string, ConnectionEvent['verdict']]> = [
    [
      'api.example.test',
      () => {
        throw new ProxyRejection('proxy_auth_required');
      },
      'proxy_auth_required',
      'blocked',
    ],
    ['blocked.example.test', undefined, 'host_denied', 'blocked'],
    ['internal.example.test', undefined, 'internal_address_denied', 'blocked'],
    ['missing.example.test', undefined, 'upstream_unreachable', 'failed'],
    [
      'api.example.test',
      () => {
        throw new Error('not a rejection');
      },
      'bad_request',
      'blocked',
    ],
  ];
  for (const [host, identify, code, verdict] of cases) {
    const { outcome, row } = await run(host, identify);
    assert.ok(outcome instanceof ProxyRejection, code);
    assert.equal(outcome.code, code);
    assert.equal(row.verdict, verdict, code);
    assert.equal(row.errorCode, code);
    assert.equal(row.matchRule, outcome.detail ?? code, "the rule's own words when it gave any");
    assert.equal(row.dstIp, undefined, `${code}: no address was approved`);
  }
});
