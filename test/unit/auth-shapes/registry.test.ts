import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_SHAPES, findAuthShape, SHAPE_INPUT_FIELDS, type AuthType } from '../../../src/auth-shapes/index.js';
import type { AuthRuleInput, AuthType as WireAuthType } from '../../../src/sdk/types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// The SDK's wire types are written by hand (a refactor here must not silently change what clients
// compile against); these lines stop the typecheck when the two drift apart.
const sameAuthType: Same<WireAuthType, AuthType> = true;
const sameShapeNames: Same<AuthRuleInput['type'], keyof typeof AUTH_SHAPES> = true;
const sameInputFields: Same<keyof AuthRuleInput, (typeof SHAPE_INPUT_FIELDS)[number]> = true;

test('the registry maps each shape name to the module of that shape', () => {
  assert.ok(sameAuthType && sameShapeNames && sameInputFields);
  for (const [name, shape] of Object.entries(AUTH_SHAPES)) {
    assert.equal(shape.type, name);
    assert.equal(findAuthShape(name), shape);
  }
});

test('names that are not shapes find none, inherited object keys and per_host included', () => {
  for (const name of ['per_host', 'Bearer', '__proto__', 'toString', 'constructor', '', undefined, 42]) {
    assert.equal(findAuthShape(name), undefined, String(name));
  }
});
