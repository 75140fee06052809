import assert from 'node:assert/strict';
import { ApiError } from '../../src/errors.js';

/** Asserts that `parse(body)` throws a 400 bad_request ApiError with exactly `message`. */
export function assertBadRequest(parse: (body: unknown) => unknown, body: unknown, message: string): void {
  assert.throws(
    () => parse(body),
    (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'bad_request');
      assert.equal(err.status, 400);
      assert.equal(err.message, message);
      return true;
    },
  );
}
