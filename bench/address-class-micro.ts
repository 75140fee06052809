// Micro-benchmark of the egress address classifier: the hand-written tables of
// src/proxy/address-class.ts against the same ranges in node:net BlockLists and against ipaddr.js
// (a transitive dependency, through fastify's proxy-addr). All three must agree on every address
// before they are timed. Bounded: at most ITERATIONS per variant and TIME_LIMIT_MS per variant.
// Run: node --import tsx bench/address-class-micro.ts
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { createRequire } from 'node:module';
import { classifyAddress, type AddressClass } from '../src/proxy/address-class.js';

const ITERATIONS = 2_000_000;
const TIME_LIMIT_MS = 3_000;
const ROUNDS = 5;

/** The classifier's own ranges as [class, CIDRs], first match wins (v4 and v6 share one list). */
const RANGES: ReadonlyArray<readonly [AddressClass, readonly string[]]> = [
  ['metadata', ['169.254.169.254/32', '100.100.100.200/32', 'fd00:ec2::254/128']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fec0::/10']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['cgnat', ['100.64.0.0/10']],
  ['unique-local', ['fc00::/7']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['reserved', ['192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4', '2001:db8::/32', '100::/64']],
];

const LISTS = RANGES.map(([cls, cidrs]) => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/') as [string, string];
    list.addSubnet(net, Number(bits), net.includes(':') ? 'ipv6' : 'ipv4');
  }
  return [cls, list] as const;
});

/** IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4): BlockList cannot see inside them. */
function embeddedV4(groups: readonly number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const quad = (hi: number, lo: number) => `${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && g5 === 0 && g6 === 0 && (g7 === 0 || g7 === 1)) return undefined;
  if (upperZero && (g5 === 0xffff || g5 === 0)) return quad(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return quad(g6, g7);
  if (g0 === 0x2002) return quad(g1, g2);
  return undefined;
}

function v6Groups(text: string): number[] {
  const lastColon = text.lastIndexOf(':');
  let body = text.toLowerCase();
  if (body.indexOf('.', lastColon) !== -1) {
    const p = body
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    body = `${body.slice(0, lastColon + 1)}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const gap = body.indexOf('::');
  const split = (s: string) => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  if (gap === -1) return split(body);
  const head = split(body.slice(0, gap));
  const tail = split(body.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function strip(ip: string): string {
  let text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  return text;
}

function classifyWithBlockList(ip: string): AddressClass {
  const text = strip(ip);
  let family: 'ipv4' | 'ipv6';
  const address = text;
  if (isIPv4(text)) family = 'ipv4';
  else if (isIPv6(text)) {
    const v4 = embeddedV4(v6Groups(text));
    if (v4 !== undefined) return classifyWithBlockList(v4);
    family = 'ipv6';
  } else return 'invalid';
  for (const [cls, list] of LISTS) if (list.check(address, family)) return cls;
  return family === 'ipv4' && address === '255.255.255.255' ? 'reserved' : 'public';
}

type IpaddrModule = {
  parse(ip: string): {
    kind(): 'ipv4' | 'ipv6';
    match(range: [unknown, number]): boolean;
    isIPv4MappedAddress?(): boolean;
    toIPv4Address?(): unknown;
    parts?: number[];
  };
  parseCIDR(cidr: string): [unknown, number];
  isValid(ip: string): boolean;
};
/** Not a dependency of ours: present while fastify's proxy-addr brings it, else that row is skipped. */
const ipaddr = loadIpaddr();
const IPADDR_RANGES = RANGES.map(([cls, cidrs]) => [cls, ipaddr ? cidrs.map((c) => ipaddr.parseCIDR(c)) : []] as const);

function loadIpaddr(): IpaddrModule | undefined {
  try {
    return createRequire(import.meta.url)('ipaddr.js') as IpaddrModule;
  } catch {
    console.log('ipaddr.js is not installed; its row is skipped');
    return undefined;
  }
}

function classifyWithIpaddr(ip: string): AddressClass {
  const text = strip(ip);
  if (!isIPv4(text) && !isIPv6(text)) return 'invalid';
  const addr = ipaddr!.parse(text);
  if (addr.kind() === 'ipv6') {
    const v4 = embeddedV4(addr.parts!);
    if (v4 !== undefined) return classifyWithIpaddr(v4);
  }
  const kind = addr.kind();
  for (const [cls, ranges] of IPADDR_RANGES) {
    for (const range of ranges) {
      if ((range[0] as { kind(): string }).kind() === kind && addr.match(range)) return cls;
    }
  }
  return text === '255.255.255.255' ? 'reserved' : 'public';
}

/** The classifier test's cases plus addresses a resolver hands back in practice. */
const CORPUS = [
  '8.8.8.8',
  '1.1.1.1',
  '172.32.0.1',
  '100.128.0.1',
  '127.0.0.1',
  '127.255.255.254',
  '10.0.0.1',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.1.1',
  '169.254.169.254',
  '100.100.100.200',
  '100.64.0.1',
  '100.127.255.255',
  '0.0.0.0',
  '0.1.2.3',
  '224.0.0.1',
  '240.0.0.1',
  '255.255.255.255',
  '192.0.2.1',
  '::',
  '::1',
  '[::1]',
  '0:0:0:0:0:0:0:1',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'fe80::1%eth0',
  'fec0::1',
  'ff02::1',
  'fd00:ec2::254',
  '2001:db8::1',
  '2606:4700::1111',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.1.2.3',
  '::ffff:a9fe:a9fe',
  '::ffff:8.8.8.8',
  '::7f00:1',
  '::127.0.0.1',
  '64:ff9b::a00:1',
  '2002:c0a8:0101::1',
  '2002:0808:0808::1',
  'not-an-ip',
  '999.1.1.1',
  '104.18.32.47',
  '140.82.112.3',
  '2606:4700:4400::6812:2a1f',
];

const VARIANTS: Record<string, (ip: string) => AddressClass> = {
  tables: classifyAddress,
  BlockList: classifyWithBlockList,
  ...(ipaddr ? { 'ipaddr.js': classifyWithIpaddr } : {}),
};

for (const ip of CORPUS) {
  const expected = classifyAddress(ip);
  for (const [name, classify] of Object.entries(VARIANTS)) {
    const got = classify(ip);
    if (got !== expected) throw new Error(`${name} classifies ${ip} as ${got}, the tables as ${expected}`);
  }
}

/** A public IPv4 answer is what nearly every dial classifies; the mixed row walks the whole corpus. */
const WORKLOADS: Record<string, readonly string[]> = { 'public IPv4': ['104.18.32.47'], 'public IPv6': ['2606:4700:4400::6812:2a1f'], mixed: CORPUS };

function time(classify: (ip: string) => AddressClass, inputs: readonly string[]): number {
  const deadline = performance.now() + TIME_LIMIT_MS;
  let sink = 0;
  let n = 0;
  const start = performance.now();
  for (; n < ITERATIONS && (n & 0xfff || performance.now() < deadline); n++) sink += classify(inputs[n % inputs.length]!).length;
  const ns = ((performance.now() - start) * 1e6) / n;
  if (sink === 0) throw new Error('unreachable');
  return ns;
}

console.log(`agree on ${CORPUS.length} addresses; ns per classification, ${ROUNDS} rounds (min–max):`);
for (const [workload, inputs] of Object.entries(WORKLOADS)) {
  const rows: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, classify] of Object.entries(VARIANTS)) (rows[name] ??= []).push(time(classify, inputs));
  }
  const cells = Object.entries(rows).map(([name, ns]) => `${name} ${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}`);
  console.log(`  ${workload.padEnd(12)} ${cells.join('   ')}`);
}
