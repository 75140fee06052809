import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { RequestHistogram } from '../../../src/metrics/histogram.js';

const BUCKETS = [0.005, 0.01, 0.5, 1];
/** On a bound, between bounds, below the first, past the last, and zero. */
const VALUES = [0.005, 0.007, 0.001, 2, 0, 0.5, 0.75, 1, 30];

test('RequestHistogram exports the same text as prom-client Histogram for the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new RequestHistogram({ name: 'x_seconds', help: 'Help text.', buckets: BUCKETS, registry: ours });
  const reference = new Histogram({ name: 'x_seconds', help: 'Help text.', buckets: BUCKETS, registers: [theirs] });
  for (const value of VALUES) {
    fast.observe(value);
    reference.observe(value);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('RequestHistogram starts at zero in every bucket and reset() brings it back there', async () => {
  const registry = new Registry();
  const empty = await new Registry().metrics();
  const fast = new RequestHistogram({ name: 'y_seconds', help: 'Help.', buckets: BUCKETS, registry });
  const zero = await registry.metrics();
  assert.notEqual(zero, empty);
  assert.match(zero, /^y_seconds_bucket\{le="\+Inf"\} 0$/m);
  assert.match(zero, /^y_seconds_count 0$/m);
  fast.observe(0.2);
  assert.match(await registry.metrics(), /^y_seconds_bucket\{le="0\.5"\} 1$/m);
  registry.resetMetrics();
  assert.equal(await registry.metrics(), zero);
});
