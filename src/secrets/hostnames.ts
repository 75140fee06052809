import { isIP } from 'node:net';
import { getPublicSuffix } from 'tldts';

/**
 * Host-pattern rules shared by secret and sandbox validation. A pattern is an exact host name or
 * `*.` + a name; the wildcard matches exactly one more label (docs/contract.md#host-patterns). Comparisons are
 * case-insensitive; patterns themselves are kept as the client wrote them.
 */

/** Superserve's secret host rule: no scheme, port or path; at least two labels; optional `*.`. */
const SECRET_HOST_RE = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** Egress entries may also name a single-label host (e.g. an internal service name). */
const NETWORK_HOST_RE = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

const MAX_HOST_LENGTH = 253;

/** True when `host` is a valid secret host pattern (`api.example.com`, `*.example.com`). */
export function isSecretHostPattern(host: string): boolean {
  return host.length <= MAX_HOST_LENGTH && SECRET_HOST_RE.test(host);
}

/**
 * For a wildcard rooted at a public suffix (Mozilla PSL, private section included, as Go's
 * x/net/publicsuffix that Superserve uses), the suffix it is rooted at (lowercased); else undefined.
 */
export function overbroadWildcardSuffix(pattern: string): string | undefined {
  if (!pattern.startsWith('*.')) return undefined;
  const base = pattern.slice(2).toLowerCase();
  return getPublicSuffix(base, { allowPrivateDomains: true }) === base ? base : undefined;
}

/** True when `host` has exactly one more label than `suffix` and ends with `.suffix` (both lowercased). */
function isOneLabelUnder(host: string, suffix: string): boolean {
  return host.endsWith(`.${suffix}`) && !host.slice(0, host.length - suffix.length - 1).includes('.');
}

/**
 * True when every host `inner` can match is matched by `outer`: an exact host is covered by
 * itself or by `*.x` with exactly one more label; a wildcard only by the same wildcard.
 */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.toLowerCase();
  const i = inner.toLowerCase();
  if (o === i) return true;
  if (!o.startsWith('*.') || i.startsWith('*.')) return false;
  return isOneLabelUnder(i, o.slice(2));
}

/** True when some host is matched by both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  const xWild = x.startsWith('*.');
  const yWild = y.startsWith('*.');
  // Two different single-label wildcards never share a host; two different exact hosts neither.
  if (xWild === yWild) return false;
  return xWild ? isOneLabelUnder(y, x.slice(2)) : isOneLabelUnder(x, y.slice(2));
}

function isCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  if (slash < 0) return false;
  const family = isIP(entry.slice(0, slash));
  const bits = entry.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** True for an egress entry: an IP address, a CIDR block, a host name or a `*.` host pattern. */
export function isNetworkEntry(entry: string): boolean {
  if (isIP(entry) !== 0 || isCidr(entry)) return true;
  // An all-digit last label is a malformed IP address (e.g. 10.0.0.999), not a host name.
  return entry.length <= MAX_HOST_LENGTH && NETWORK_HOST_RE.test(entry) && !/(^|\.)\d+$/.test(entry);
}
