import type { IncomingHttpHeaders } from 'node:http';
import { ProxyRejection } from '../errors.js';
import type { AuthRule } from './source.js';
import { compileTemplate } from './template.js';

/** One outgoing header holding a real value; lives only for the request being rewritten. */
export interface RenderedHeader {
  /** Lowercased. */
  readonly name: string;
  readonly value: string;
}

export interface Injection {
  readonly headers: readonly RenderedHeader[];
  /** The username of an injected Basic header, so the scrubber knows `base64(user:real)`. */
  readonly basicUsername: string | undefined;
}

/** Renders a real value in one rule's shape. */
export interface Injector {
  readonly authType: AuthRule['type'];
  /** Throws ProxyRejection('inject_error') when a rendered header would carry CR, LF or NUL. */
  render(real: string, clientUsername: string | undefined): Injection;
}

/** Names the secret in inject errors (never its value). */
export interface SecretLabel {
  readonly id: string;
  readonly name: string;
}

export function compileInjector(shape: AuthRule, secret: SecretLabel): Injector {
  const build = compileRender(shape);
  return {
    authType: shape.type,
    render: (real, clientUsername) => {
      const injection = build(real, clientUsername);
      for (const header of injection.headers) assertHeaderSafe(header, secret);
      return injection;
    },
  };
}

function compileRender(shape: AuthRule): (real: string, clientUsername: string | undefined) => Injection {
  switch (shape.type) {
    case 'bearer':
      return (real) => single('authorization', `Bearer ${real}`);
    case 'basic':
      return (real, clientUsername) => {
        const username = shape.username ?? clientUsername ?? '';
        const value = `Basic ${Buffer.from(`${username}:${real}`, 'utf8').toString('base64')}`;
        return { headers: [{ name: 'authorization', value }], basicUsername: username };
      };
    case 'api-key': {
      const name = shape.header.toLowerCase();
      const prefix = shape.prefix ?? '';
      return (real) => single(name, prefix + real);
    }
    case 'custom': {
      const templates = Object.entries(shape.headers).map(([name, t]) => ({ name: name.toLowerCase(), template: compileTemplate(t) }));
      return (real) => ({
        headers: templates.map(({ name, template }) => ({ name, value: toWire(template.render(real)) })),
        basicUsername: undefined,
      });
    }
  }
}

function single(name: string, value: string): Injection {
  return { headers: [{ name, value: toWire(value) }], basicUsername: undefined };
}

/**
 * Node holds header values as latin1 strings; a non-ASCII value goes out as its UTF-8 bytes,
 * the same bytes the stand-in matcher compares against.
 */
export function toWire(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) return Buffer.from(value, 'utf8').toString('latin1');
  }
  return value;
}

function assertHeaderSafe(header: RenderedHeader, secret: SecretLabel): void {
  const { value } = header;
  if (value.includes('\r') || value.includes('\n') || value.includes('\0')) {
    throw new ProxyRejection('inject_error', `secret "${secret.name}": the ${header.name} header would contain CR, LF or NUL`, secret.id);
  }
}

/** One credential to place: the headers its stand-in came in and the headers to set instead. */
export interface PlannedInjection {
  readonly strip: readonly string[];
  readonly set: readonly RenderedHeader[];
  readonly secret: SecretLabel;
}

/**
 * Rewrites the headers in place once every match has been resolved: first strip every matched
 * header, then set every rendered one, so one credential's new header is never taken for
 * another's stand-in. Two credentials aimed at one header cannot both be sent: inject_error.
 */
export function applyInjections(headers: IncomingHttpHeaders, planned: readonly PlannedInjection[]): void {
  if (planned.length > 1) assertNoConflict(planned);
  for (const { strip } of planned) {
    // A header that is set again is overwritten in place: `delete` would turn Node's header object
    // into a slow dictionary for every later read (forwardHeaders walks it).
    for (const name of strip) if (!willSet(planned, name)) delete headers[name];
  }
  for (const { set } of planned) {
    for (const { name, value } of set) headers[name] = value;
  }
}

function willSet(planned: readonly PlannedInjection[], name: string): boolean {
  for (const { set } of planned) for (const header of set) if (header.name === name) return true;
  return false;
}

function assertNoConflict(planned: readonly PlannedInjection[]): void {
  const owners = new Map<string, SecretLabel>();
  for (const { set, secret } of planned) {
    for (const { name } of set) {
      const owner = owners.get(name);
      if (owner !== undefined && owner.id !== secret.id) {
        throw new ProxyRejection('inject_error', `secrets "${owner.name}" and "${secret.name}" both target the ${name} header`, secret.id);
      }
      owners.set(name, secret);
    }
  }
}
