import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestOutcome } from '../../../src/proxy/request-record.js';

test('requestOutcome: a refusal is rejected or upstream_error, whatever else happened', () => {
  assert.equal(requestOutcome('credential_host_mismatch', false, true, false), 'rejected');
  assert.equal(requestOutcome('upstream_unreachable', true, true, true), 'upstream_error');
  assert.equal(requestOutcome('upstream_timeout', true, false, false), 'upstream_error', 'the client leaving after a failure does not change it');
});

test('requestOutcome: without a refusal, client_aborted beats injected and forwarded', () => {
  assert.equal(requestOutcome(undefined, false, false, true), 'client_aborted');
  assert.equal(requestOutcome(undefined, false, true, true), 'injected');
  assert.equal(requestOutcome(undefined, false, true, false), 'forwarded');
});
