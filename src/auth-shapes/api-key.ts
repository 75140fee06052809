import type { AuthShape, RejectInput, ShapeInput } from './auth-shape.js';
import { headerEquals, singleHeader, utf8 } from './header-bytes.js';
import { breaksHeader, isHeaderName } from './header-syntax.js';

/** `<header>: <prefix><value>`, e.g. `x-api-key: <value>`. */
export interface ApiKeyRule {
  readonly type: 'api-key';
  readonly header: string;
  readonly prefix?: string;
}

function validate({ header, prefix, username, headers }: ShapeInput, path: string, reject: RejectInput): Record<string, unknown> {
  if (!header) reject(`${path}.header is required for type=api-key`);
  if (!isHeaderName(header)) reject(`${path}.header ${JSON.stringify(header)} is not a valid header name`);
  if (headers) reject(`${path}.headers is not allowed for type=api-key`);
  if (username) reject(`${path}.username is not allowed for type=api-key`);
  if (prefix && breaksHeader(prefix)) reject(`${path}.prefix may not contain CR, LF or NUL`);
  return prefix ? { header, prefix } : { header };
}

function parse(config: Readonly<Record<string, unknown>>, fault: (why: string) => Error): ApiKeyRule {
  if (typeof config.header !== 'string' || config.header === '') throw fault('api-key without header');
  const prefix = typeof config.prefix === 'string' && config.prefix !== '' ? config.prefix : undefined;
  return prefix === undefined ? { type: 'api-key', header: config.header } : { type: 'api-key', header: config.header, prefix };
}

export const API_KEY: AuthShape<ApiKeyRule> = {
  type: 'api-key',
  validate,
  parse,
  compileRender: (rule) => {
    const name = rule.header.toLowerCase();
    const prefix = rule.prefix ?? '';
    return (real) => singleHeader(name, prefix + real);
  },
  compileMatch: (rule, standIn) => headerEquals(rule, rule.header.toLowerCase(), utf8((rule.prefix ?? '') + standIn)),
  surroundings: (rule) => [[rule.prefix ?? '', '']],
};
