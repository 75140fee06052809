import type { IncomingHttpHeaders } from 'node:http';
import { shapeOf, type AuthRule, type Injection, type RenderedHeader } from '../auth-shapes/index.js';
import { ProxyRejection } from '../errors.js';

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
  const build = shapeOf(shape).compileRender(shape);
  return {
    authType: shape.type,
    render: (real, clientUsername) => {
      const injection = build(real, clientUsername);
      for (const header of injection.headers) assertHeaderSafe(header, secret);
      return injection;
    },
  };
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
