import type { AuthShape, RejectInput, ShapeCheck, ShapeInput } from './auth-shape.js';
import { headerEquals, toWire, utf8 } from './header-bytes.js';
import { breaksHeader, isHeaderName } from './header-syntax.js';
import { compileTemplate } from './template.js';

/** Headers written from templates, e.g. `{"X-Auth": "Token {{ value }}"}`. */
export interface CustomRule {
  readonly type: 'custom';
  readonly headers: Readonly<Record<string, string>>;
}

const MAX_CUSTOM_HEADERS = 8;
const VALUE_PLACEHOLDER = '{{ value }}';

function validate({ header, prefix, username, headers }: ShapeInput, path: string, reject: RejectInput): Record<string, unknown> {
  if (!headers) reject(`${path}.headers is required for type=custom`);
  const names = Object.keys(headers);
  if (names.length > MAX_CUSTOM_HEADERS) reject(`${path}.headers has ${names.length} entries, max is ${MAX_CUSTOM_HEADERS}`);
  for (const name of names) {
    const template = headers[name] as string;
    if (!isHeaderName(name)) reject(`${path}.headers: ${JSON.stringify(name)} is not a valid header name`);
    if (!template.includes(VALUE_PLACEHOLDER)) {
      reject(`${path}.headers[${name}]: template must reference {{ value }} so the credential is actually injected`);
    }
    if (breaksHeader(template)) reject(`${path}.headers[${name}]: template may not contain CR, LF or NUL`);
  }
  if (header || prefix || username) reject(`${path}.type=custom does not accept header/prefix/username; use headers map`);
  return { headers };
}

function parse(config: Readonly<Record<string, unknown>>, fault: (why: string) => Error): CustomRule {
  const headers = config.headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) throw fault('malformed auth_config');
  const entries = Object.entries(headers);
  if (entries.length === 0 || !entries.every(([, t]) => typeof t === 'string')) throw fault('custom without header templates');
  return { type: 'custom', headers: headers as Record<string, string> };
}

function compileMatch(rule: CustomRule, standIn: string): ShapeCheck<CustomRule> {
  const checks = Object.entries(rule.headers).map(([name, template]) => {
    const header = name.toLowerCase();
    return { header, check: headerEquals(rule, header, utf8(compileTemplate(template).render(standIn))) };
  });
  return (view) => {
    let headers: string[] | undefined;
    for (const { header, check } of checks) {
      if (check(view)) (headers ??= []).push(header);
    }
    return headers ? { shape: rule, headers, clientUsername: undefined } : undefined;
  };
}

export const CUSTOM: AuthShape<CustomRule> = {
  type: 'custom',
  validate,
  parse,
  compileRender: (rule) => {
    const templates = Object.entries(rule.headers).map(([name, t]) => ({ name: name.toLowerCase(), template: compileTemplate(t) }));
    return (real) => ({
      headers: templates.map(({ name, template }) => ({ name, value: toWire(template.render(real)) })),
      basicUsername: undefined,
    });
  },
  compileMatch,
  surroundings: (rule) => Object.values(rule.headers).map((template) => compileTemplate(template).parts),
};
