import type { AuthShape, RejectInput, ShapeCheck, ShapeInput } from './auth-shape.js';
import { safeEqual, singleHeader, utf8 } from './header-bytes.js';

/** `Authorization: Bearer <value>`. */
export interface BearerRule {
  readonly type: 'bearer';
}

function validate({ header, prefix, username, headers }: ShapeInput, path: string, reject: RejectInput): Record<string, unknown> {
  if (header || prefix || username || headers) reject(`${path}.type="bearer" does not accept header/prefix/username/headers`);
  return {};
}

function compileMatch(rule: BearerRule, standIn: string): ShapeCheck<BearerRule> {
  const expected = utf8(standIn);
  const found = { shape: rule, headers: ['authorization'], clientUsername: undefined };
  return (view) => {
    const token = view.bearer();
    return token !== undefined && safeEqual(token, expected) ? found : undefined;
  };
}

export const BEARER: AuthShape<BearerRule> = {
  type: 'bearer',
  validate,
  parse: () => ({ type: 'bearer' }),
  compileRender: () => (real) => singleHeader('authorization', `Bearer ${real}`),
  compileMatch,
  surroundings: () => [['Bearer ', '']],
};
