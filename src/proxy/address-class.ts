import { isIPv4, isIPv6 } from 'node:net';

/**
 * What kind of network an IP address belongs to. Everything but `public` is internal and refused
 * by the egress guard unless the operator approved it (docs/contract.md#egress).
 */
export type AddressClass =
  'public' | 'loopback' | 'private' | 'link-local' | 'unique-local' | 'cgnat' | 'unspecified' | 'multicast' | 'metadata' | 'reserved' | 'invalid';

/** [network, prefix length, class] for IPv4; the first match wins, so narrower ranges come first. */
const V4_RANGES: ReadonlyArray<readonly [number, number, AddressClass]> = [
  [v4('169.254.169.254'), 32, 'metadata'],
  [v4('100.100.100.200'), 32, 'metadata'],
  [v4('0.0.0.0'), 8, 'unspecified'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('169.254.0.0'), 16, 'link-local'],
  [v4('100.64.0.0'), 10, 'cgnat'],
  [v4('192.0.0.0'), 24, 'reserved'],
  [v4('192.0.2.0'), 24, 'reserved'],
  [v4('198.18.0.0'), 15, 'reserved'],
  [v4('198.51.100.0'), 24, 'reserved'],
  [v4('203.0.113.0'), 24, 'reserved'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'],
];

/** Classifies an IPv4 or IPv6 literal (brackets and a zone id are tolerated). */
export function classifyAddress(ip: string): AddressClass {
  let text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (isIPv4(text)) return classifyV4(v4(text));
  if (isIPv6(text)) return classifyV6(v6Groups(text));
  return 'invalid';
}

/** The last label (a trailing dot aside) is a number: WHATWG's "ends in a number", which resolvers read as IPv4. */
const ENDS_IN_NUMBER = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)\.?$/i;

/**
 * The one spelling of a target host that the egress policy, the address check and the audit see:
 * numeric IPv4 spellings that resolvers accept (`2130706433`, `0x7f000001`, `127.1`,
 * `017700000001`, `0`) become a dotted quad (WHATWG URL's IPv4 parser, the same reading as
 * inet_aton), IPv4-mapped IPv6 becomes its IPv4 address, other IPv6 is compressed (RFC 5952) and
 * names are lowercased. Brackets are dropped. Undefined for a host that ends in a number but is
 * no IPv4 address (`1.2.3.4.5`, `4294967296`): a resolver's reading of those cannot be predicted.
 */
export function canonicalHost(host: string): string | undefined {
  const text = (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host).toLowerCase();
  if (text.includes(':')) {
    if (!isIPv6(text)) return undefined;
    if (text.includes('%')) return text; // a zone id: URL cannot spell it, classification ignores it
    const ip = canonicalIp(text);
    return isIPv4(ip) ? ip : new URL(`http://[${text}]/`).hostname.slice(1, -1);
  }
  if (isIPv4(text) || !ENDS_IN_NUMBER.test(text)) return text;
  let parsed: string;
  try {
    parsed = new URL(`http://${text}/`).hostname;
  } catch {
    return undefined;
  }
  return isIPv4(parsed) ? parsed : undefined;
}

/**
 * One spelling per address, so listener and target addresses compare equal: IPv4 stays dotted,
 * IPv4-mapped IPv6 becomes its IPv4 address, other IPv6 becomes eight uncompressed hex groups.
 * Returns the input unchanged when it is not an IP literal.
 */
export function canonicalIp(ip: string): string {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIPv4(text) || !isIPv6(text)) return text;
  const g = v6Groups(text);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >>> 8}.${g[6]! & 0xff}.${g[7]! >>> 8}.${g[7]! & 0xff}`;
  }
  return g.map((n) => n.toString(16)).join(':');
}

function classifyV4(addr: number): AddressClass {
  for (const [network, bits, cls] of V4_RANGES) {
    if (addr >>> (32 - bits) === network >>> (32 - bits)) return cls;
  }
  return addr === 0xffffffff ? 'reserved' : 'public';
}

function classifyV6(g: readonly number[]): AddressClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const embedded = ((g6 << 16) | g7) >>> 0;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && g5 === 0 && g6 === 0) {
    if (g7 === 0) return 'unspecified';
    if (g7 === 1) return 'loopback';
  }
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach the
  // IPv4 address they carry, as does NAT64 (64:ff9b::/96); classify that address.
  if (upperZero && (g5 === 0xffff || g5 === 0)) return classifyV4(embedded);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyV4(embedded);
  // 6to4 (2002:AABB:CCDD::/48) tunnels to the IPv4 address in groups 1-2.
  if (g0 === 0x2002) return classifyV4(((g1 << 16) | g2) >>> 0);
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 && g6 === 0 && g7 === 0x254) return 'metadata';
  if ((g0 & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private';
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved';
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return 'reserved';
  return 'public';
}

function v4(text: string): number {
  const parts = text.split('.');
  return ((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0;
}

/** Eight 16-bit groups of a valid IPv6 literal, expanding `::` and a trailing dotted quad. */
function v6Groups(text: string): number[] {
  let body = text.toLowerCase();
  const lastColon = body.lastIndexOf(':');
  if (body.indexOf('.', lastColon) !== -1) {
    const quad = v4(body.slice(lastColon + 1));
    body = `${body.slice(0, lastColon + 1)}${(quad >>> 16).toString(16)}:${(quad & 0xffff).toString(16)}`;
  }
  const gap = body.indexOf('::');
  const head = groups(gap === -1 ? body : body.slice(0, gap));
  if (gap === -1) return head;
  const tail = groups(body.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function groups(text: string): number[] {
  return text === '' ? [] : text.split(':').map((h) => parseInt(h, 16));
}
