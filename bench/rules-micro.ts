// Micro-benchmark of StandInPolicy.authorizeRequest: 0 / 1 / 3 stand-ins in a request to a
// sandbox with 10 bindings. Bounded: at most ITERATIONS per case and TIME_LIMIT_MS per case.
// Run: node --import tsx bench/rules-micro.ts
import type { IncomingHttpHeaders } from 'node:http';
import { RuleTable } from '../src/rules/rule-table.js';
import { StandInPolicy } from '../src/rules/stand-in-policy.js';
import { MemoryRuleSource } from '../test/helpers/memory-rule-source.js';

const ITERATIONS = 200_000;
const TIME_LIMIT_MS = 3_000;
const HOST = 'api.example.com';

const source = new MemoryRuleSource();
const secrets: Record<string, string> = {};
for (let i = 0; i < 10; i++) {
  const auth =
    i % 3 === 0
      ? { type: 'bearer' as const }
      : i % 3 === 1
        ? { type: 'api-key' as const, header: `x-key-${i}` }
        : { type: 'custom' as const, headers: { [`X-Custom-${i}`]: 'Token {{ value }}' } };
  secrets[`KEY_${i}`] = source.addSecret({ name: `secret${i}`, value: `real-value-${i}-${'x'.repeat(40)}`, auth, hosts: [HOST, `*.example${i}.com`] }).id;
}
const sandbox = source.addSandbox({ secrets });
const table = new RuleTable(source);
const policy = new StandInPolicy(table, { requireAuth: true });
const identity = table.identityForToken(sandbox.accessToken)!;
const target = { host: HOST, port: 443, secure: true };
const STAND_INS = Array.from({ length: 10 }, (_, i) => source.standIn(sandbox.id, `KEY_${i}`));
const standIn = (i: number) => STAND_INS[i]!;

const BASE: IncomingHttpHeaders = {
  host: HOST,
  'user-agent': 'python-httpx/0.27.0',
  accept: 'application/json',
  'content-type': 'application/json',
  'content-length': '1234',
  'x-request-id': '7f1c2a9e-3b4d-4c8e-9a1f-0b2c3d4e5f60',
};
const CASES: Record<string, () => IncomingHttpHeaders> = {
  '0 stand-ins': () => ({ ...BASE }),
  '1 stand-in': () => ({ ...BASE, authorization: `Bearer ${standIn(0)}` }),
  '3 stand-ins': () => ({ ...BASE, authorization: `Bearer ${standIn(0)}`, 'x-key-1': standIn(1), 'x-custom-2': `Token ${standIn(2)}` }),
};

/** CPU time per op (process.cpuUsage), best of ROUNDS: steadier than wall time on a busy host. */
const ROUNDS = 5;

function measure(run: () => void): { nsPerOp: number; ops: number } {
  for (let i = 0; i < 5_000; i++) run(); // warm-up (also loads the sandbox once)
  let best = Infinity;
  let total = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const deadline = performance.now() + TIME_LIMIT_MS / ROUNDS;
    const start = process.cpuUsage();
    let ops = 0;
    while (ops < ITERATIONS / ROUNDS && (ops % 1024 !== 0 || performance.now() < deadline)) {
      run();
      ops++;
    }
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / ops);
    total += ops;
  }
  return { nsPerOp: best, ops: total };
}

const rows: string[] = [];
for (const [name, make] of Object.entries(CASES)) {
  const expected = name === '0 stand-ins' ? 0 : Number(name[0]);
  const check = policy.authorizeRequest(identity, target, make());
  if (check.matches.length !== expected) throw new Error(`${name}: ${check.matches.length} matches`);
  const copyOnly = measure(() => void make());
  const full = measure(() => void policy.authorizeRequest(identity, target, make()));
  rows.push(
    `${name.padEnd(12)} ${full.nsPerOp.toFixed(0).padStart(7)} ns/op   (of which building the headers ${copyOnly.nsPerOp.toFixed(0)} ns; ${full.ops} ops)`,
  );
}
console.log(`authorizeRequest, sandbox with 10 bindings, node ${process.version}, CPU time, best of ${ROUNDS}`);
for (const row of rows) console.log(row);
