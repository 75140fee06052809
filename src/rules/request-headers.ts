import type { IncomingHttpHeaders } from 'node:http';
import { latin1, type BasicCredentials, type ShapeRequestView } from '../auth-shapes/index.js';

const UNPARSED = Symbol('unparsed');

/**
 * One request's headers, with the Authorization header parsed lazily and at most once however
 * many bindings look at it. Header values are Node's latin1 strings, so `latin1` recovers the
 * bytes as they came off the wire.
 */
export class RequestHeaderView implements ShapeRequestView {
  readonly headers: IncomingHttpHeaders;
  #bearer: Buffer | undefined | typeof UNPARSED = UNPARSED;
  #basic: BasicCredentials | undefined | typeof UNPARSED = UNPARSED;

  constructor(headers: IncomingHttpHeaders) {
    this.headers = headers;
  }

  /** The token of `Authorization: Bearer <t>` (scheme case-insensitive). */
  bearer(): Buffer | undefined {
    if (this.#bearer === UNPARSED) this.#bearer = this.#parseBearer();
    return this.#bearer;
  }

  /** The credentials of `Authorization: Basic base64(user:password)`. */
  basic(): BasicCredentials | undefined {
    if (this.#basic === UNPARSED) this.#basic = decodeBasic(this.headers.authorization);
    return this.#basic;
  }

  #parseBearer(): Buffer | undefined {
    const value = this.headers.authorization;
    if (value === undefined || value.length <= 7 || !hasScheme(value, 'bearer ')) return undefined;
    return latin1(value.slice(7));
  }
}

/** True when `value` starts with `scheme` (lowercase, with its trailing space), ignoring case. */
export function hasScheme(value: string, scheme: string): boolean {
  return value.length >= scheme.length && value.slice(0, scheme.length).toLowerCase() === scheme;
}

/** Decodes `Basic base64(user:password)`; undefined when it is not one. */
export function decodeBasic(value: string | undefined): BasicCredentials | undefined {
  if (value === undefined || !hasScheme(value, 'basic ')) return undefined;
  const decoded = Buffer.from(value.slice(6).trim(), 'base64');
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) return undefined;
  return { username: decoded.toString('utf8', 0, colon), password: decoded.subarray(colon + 1) };
}
