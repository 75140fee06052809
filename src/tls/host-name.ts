import { isIP } from 'node:net';

/** Longest host name DNS allows (RFC 1035), without the trailing dot. */
const MAX_NAME_LENGTH = 253;

/**
 * Labels of 1–63 letters, digits and hyphens joined by dots. Underscore is accepted because some
 * real hosts use it; wildcards are not, since a leaf is minted for the exact name asked for.
 */
const DNS_NAME = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * The cache key for a TLS server name: lower-case DNS name without a trailing dot, a dotted IPv4
 * literal, or an IPv6 literal in canonical form (brackets removed). Returns undefined for anything a
 * certificate must not be minted for.
 */
export function normaliseServerName(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > MAX_NAME_LENGTH + 2) return undefined;
  let name = raw.toLowerCase();
  if (name.includes(':')) return canonicalIpv6(name);
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (isIP(name) === 4) return name;
  return name.length <= MAX_NAME_LENGTH && DNS_NAME.test(name) ? name : undefined;
}

function canonicalIpv6(name: string): string | undefined {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(bare) !== 6) return undefined;
  // The WHATWG URL parser compresses zeros and rewrites embedded IPv4, giving one spelling per address.
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
}

/** Network-order bytes of a normalised IP literal, as a binary string for an iPAddress SAN. */
export function ipAddressBytes(ip: string): string {
  if (isIP(ip) === 4) return String.fromCharCode(...ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = ip.includes('::') ? [...headGroups, ...zeros, ...tailGroups] : headGroups;
  return groups
    .map((g) => {
      const value = parseInt(g, 16);
      return String.fromCharCode(value >> 8, value & 0xff);
    })
    .join('');
}
