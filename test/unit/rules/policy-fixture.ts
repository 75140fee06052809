import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ProxyRejection, type RejectionCode } from '../../../src/errors.js';
import type { RequestTarget } from '../../../src/proxy/policy.js';
import { RuleTable } from '../../../src/rules/rule-table.js';
import { StandInPolicy } from '../../../src/rules/stand-in-policy.js';
import { MemoryRuleSource } from '../../helpers/memory-rule-source.js';

/** Shared set-up for the rules unit tests: a source, a table over it and the policy. */
export function setup(options: { requireAuth?: boolean } = {}) {
  const source = new MemoryRuleSource();
  let table: RuleTable | undefined;
  let policy: StandInPolicy | undefined;
  return {
    source,
    /** Builds the table (indexes read now) and policy once the source is populated. */
    start() {
      table = new RuleTable(source);
      policy = new StandInPolicy(table, { requireAuth: options.requireAuth ?? true });
      return { table, policy };
    },
    get table() {
      assert.ok(table, 'call start() first');
      return table;
    },
    get policy() {
      assert.ok(policy, 'call start() first');
      return policy;
    },
  };
}

export function https(host: string): RequestTarget {
  return { host, port: 443, secure: true };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function decodeBasicHeader(value: unknown): string {
  assert.equal(typeof value, 'string');
  assert.match(value as string, /^Basic /);
  return Buffer.from((value as string).slice(6), 'base64').toString('utf8');
}

/** Every real value the tests plant, so every caught error can be checked for them. */
export const PLANTED: string[] = [];

export function real(label: string): string {
  const value = `REAL-${label}-${Math.random().toString(36).slice(2)}Zq9`;
  PLANTED.push(value);
  return value;
}

/**
 * Runs `fn`, expects a ProxyRejection with `code`, and asserts that no planted real value is in
 * the error's message, detail, stack, JSON or inspect output (docs/contract.md#never-leak).
 */
export function rejects(fn: () => unknown, code: RejectionCode): ProxyRejection {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProxyRejection, `expected ProxyRejection ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  const rendered = [caught.message, caught.detail ?? '', caught.stack ?? '', JSON.stringify(caught), inspect(caught)].join('\n');
  for (const value of PLANTED) assert.ok(!rendered.includes(value), `real value leaked into a ${code} error`);
  return caught;
}
