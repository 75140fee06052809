import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { LabeledCounter } from '../../../src/metrics/counter.js';

test('LabeledCounter exports the same text as prom-client Counter for the same increments', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new LabeledCounter({ name: 'x_total', help: 'Help text.', labelNames: ['secret', 'auth_type'], registry: ours });
  const reference = new Counter({ name: 'x_total', help: 'Help text.', labelNames: ['secret', 'auth_type'], registers: [theirs] });
  // A label value that needs escaping, a set bound twice, and a fractional increment.
  const sets = [
    ['openai', 'bearer'],
    ['we"ird\\name', 'api-key'],
    ['openai', 'bearer'],
    ['github', 'basic'],
  ] as const;
  for (const [i, [secret, authType]] of sets.entries()) {
    fast.labels(secret, authType).inc(i + 0.5);
    reference.labels(secret, authType).inc(i + 0.5);
    fast.labels(secret, authType).inc();
    reference.labels(secret, authType).inc();
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('LabeledCounter: a bound set is exported at 0, one child per set, never goes down, reset zeroes', async () => {
  const registry = new Registry();
  const counter = new LabeledCounter({ name: 'y_total', help: 'Help.', labelNames: ['outcome'], registry });
  const forwarded = counter.labels('forwarded');
  assert.equal(counter.labels('forwarded'), forwarded);
  assert.match(await registry.metrics(), /^y_total\{outcome="forwarded"\} 0$/m);
  forwarded.inc();
  forwarded.inc(2);
  assert.match(await registry.metrics(), /^y_total\{outcome="forwarded"\} 3$/m);
  assert.throws(() => forwarded.inc(-1), RangeError);
  assert.throws(() => counter.labels('a', 'b'), /takes 1 label values, got 2/);
  registry.resetMetrics();
  assert.match(await registry.metrics(), /^y_total\{outcome="forwarded"\} 0$/m);
});
