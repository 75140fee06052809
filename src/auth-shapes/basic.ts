import type { AuthShape, RejectInput, ShapeCheck, ShapeInput } from './auth-shape.js';
import { safeEqual, utf8 } from './header-bytes.js';

/**
 * `Authorization: Basic base64(user:value)`: the value is the password. Without a username the
 * client's own (the one its stand-in came with) is kept.
 */
export interface BasicRule {
  readonly type: 'basic';
  readonly username?: string;
}

/** What would end the username early or break the header. */
const USERNAME_BREAKING_RE = /[:\r\n]/;

function validate({ header, prefix, username, headers }: ShapeInput, path: string, reject: RejectInput): Record<string, unknown> {
  if (header || prefix || headers) reject(`${path}.type="basic" does not accept header/prefix/headers`);
  if (username && USERNAME_BREAKING_RE.test(username)) reject(`${path}.username may not contain ':' or CR/LF`);
  return username ? { username } : {};
}

function parse(config: Readonly<Record<string, unknown>>): BasicRule {
  return typeof config.username === 'string' ? { type: 'basic', username: config.username } : { type: 'basic' };
}

function compileMatch(rule: BasicRule, standIn: string): ShapeCheck<BasicRule> {
  const expected = utf8(standIn);
  return (view) => {
    const basic = view.basic();
    return basic !== undefined && safeEqual(basic.password, expected) ? { shape: rule, headers: ['authorization'], clientUsername: basic.username } : undefined;
  };
}

export const BASIC: AuthShape<BasicRule> = {
  type: 'basic',
  validate,
  parse,
  compileRender: (rule) => (real, clientUsername) => {
    const username = rule.username ?? clientUsername ?? '';
    const value = `Basic ${Buffer.from(`${username}:${real}`, 'utf8').toString('base64')}`;
    return { headers: [{ name: 'authorization', value }], basicUsername: username };
  },
  compileMatch,
  // The stand-in is the whole decoded password.
  surroundings: () => [['', '']],
};
