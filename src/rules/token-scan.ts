import { hash } from 'node:crypto';
import type { RequestHeaderView } from './request-headers.js';

/** A run of stand-in characters long enough to be one (stand-ins and access tokens are URL-safe). */
const TOKEN_RUN = /[A-Za-z0-9_-]{16,}/g;
const MIN_RUN = 16;

/** True for the characters TOKEN_RUN is made of. */
export function isTokenChar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x5f;
}

/** True when the scan sees `token` as one whole run wherever it stands between non-token characters. */
export function isScannable(token: string): boolean {
  if (token.length < MIN_RUN) return false;
  for (let i = 0; i < token.length; i++) if (!isTokenChar(token.charCodeAt(i))) return false;
  return true;
}

/**
 * The key under which a token is indexed. Looking up a hash instead of the token means a
 * Map's string comparison can reveal nothing about the token through timing.
 */
export function tokenKey(token: string): string {
  return hash('sha256', token, 'binary');
}

/** A token-like run of a request and where it stands. */
export interface TokenRun {
  readonly text: string;
  /** The (lowercased) header it stands in. */
  readonly header: string;
  /** True when it stands in the decoded password of `Authorization: Basic`, not in the header text. */
  readonly inBasicPassword: boolean;
}

/**
 * Every token-like run in a request's header values and in a Basic password, whatever the
 * header, so a stand-in is caught wherever it hides. Proxy-Authorization (the sandbox's own
 * access token) is skipped. `wanted` filters by length before anything is allocated or hashed.
 */
export function scanTokenRuns(view: RequestHeaderView, wanted: (length: number) => boolean): TokenRun[] | undefined {
  let found: TokenRun[] | undefined;
  const { headers } = view;
  for (const name in headers) {
    if (name === 'proxy-authorization') continue;
    const value = headers[name];
    if (typeof value === 'string') found = collectRuns(value, name, false, wanted, found);
    else if (value !== undefined) for (const v of value) found = collectRuns(v, name, false, wanted, found);
  }
  const basic = view.basic();
  if (basic) found = collectRuns(basic.password.toString('utf8'), 'authorization', true, wanted, found);
  return found;
}

function collectRuns(
  text: string,
  header: string,
  inBasicPassword: boolean,
  wanted: (length: number) => boolean,
  found: TokenRun[] | undefined,
): TokenRun[] | undefined {
  if (text.length < MIN_RUN) return found;
  TOKEN_RUN.lastIndex = 0;
  for (let m = TOKEN_RUN.exec(text); m !== null; m = TOKEN_RUN.exec(text)) {
    if (wanted(m[0].length)) (found ??= []).push({ text: m[0], header, inBasicPassword });
  }
  return found;
}
