import { isIP } from 'node:net';

/** What the rules of one network namespace are built from (`credproxy iptables` flags). */
export interface EgressRulesOptions {
  /** credproxy's own uid: its traffic is never redirected nor refused. */
  readonly uid: number;
  /** transparent.https's port: TCP 443 of every other uid is redirected here. */
  readonly httpsPort: number | undefined;
  /** transparent.http's port: TCP 80 is redirected here; without it port 80 is refused. */
  readonly httpPort: number | undefined;
  /** DNS servers the sandbox may ask (UDP and TCP 53). */
  readonly resolvers: readonly string[];
  /** Destinations left alone (local services): address or CIDR, IPv4 or IPv6. */
  readonly loopback: readonly string[];
}

/** One family's rules: the iptables-restore input for credproxy's chains, and the jumps into them. */
export interface FamilyRules {
  readonly family: 'ipv4' | 'ipv6';
  /** `iptables` or `ip6tables` (`-restore` appended for the chains). */
  readonly binary: 'iptables' | 'ip6tables';
  /** Creates or flushes, then fills, both chains; atomic per table (`iptables-restore --noflush`). */
  readonly restore: string;
  /** `OUTPUT` → credproxy's chain, per table, inserted first when missing. */
  readonly jumps: ReadonlyArray<{ readonly table: 'nat' | 'filter'; readonly chain: string }>;
}

/** credproxy's chains: redirect (nat OUTPUT) and the egress filter (filter OUTPUT). */
export const REDIRECT_CHAIN = 'CREDPROXY_REDIRECT';
export const EGRESS_CHAIN = 'CREDPROXY_EGRESS';
export const DEFAULT_LOOPBACK = ['127.0.0.0/8', '::1/128'] as const;

/**
 * The rules that make a network namespace transparent: TCP 443 / 80 of every uid except
 * credproxy's goes to its transparent listeners; every other new TCP or UDP connection is refused,
 * except DNS to the resolvers and connections to local addresses. Established connections pass (a
 * connection exists only if its first packet passed). Refusals are counted by the REJECT rules'
 * counters (`credproxy iptables --status`); the kernel logs nothing from a non-initial namespace.
 */
export function egressRules(options: EgressRulesOptions): FamilyRules[] {
  return (['ipv4', 'ipv6'] as const).map((family) => familyRules(family, options));
}

function familyRules(family: 'ipv4' | 'ipv6', options: EgressRulesOptions): FamilyRules {
  const version = family === 'ipv4' ? 4 : 6;
  const mine = (address: string): boolean => isIP(address.split('/')[0]!) === version;
  const loopback = options.loopback.filter(mine);
  const resolvers = options.resolvers.filter(mine);
  const owner = `-m owner --uid-owner ${options.uid}`;
  const ports = [options.httpsPort, options.httpPort].filter((p): p is number => p !== undefined);

  const nat = [
    `-A ${REDIRECT_CHAIN} ${owner} -j RETURN`,
    ...loopback.map((cidr) => `-A ${REDIRECT_CHAIN} -d ${cidr} -j RETURN`),
    ...(options.httpsPort === undefined ? [] : [`-A ${REDIRECT_CHAIN} -p tcp --dport 443 -j REDIRECT --to-ports ${options.httpsPort}`]),
    ...(options.httpPort === undefined ? [] : [`-A ${REDIRECT_CHAIN} -p tcp --dport 80 -j REDIRECT --to-ports ${options.httpPort}`]),
  ];
  const unreachable = family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const filter = [
    `-A ${EGRESS_CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN`,
    `-A ${EGRESS_CHAIN} ${owner} -j RETURN`,
    `-A ${EGRESS_CHAIN} -p tcp -m conntrack --ctstate DNAT -m multiport --dports ${ports.join(',')} -j RETURN`,
    ...loopback.map((cidr) => `-A ${EGRESS_CHAIN} -d ${cidr} -j RETURN`),
    ...resolvers.flatMap((ip) => ['udp', 'tcp'].map((proto) => `-A ${EGRESS_CHAIN} -d ${ip} -p ${proto} --dport 53 -j RETURN`)),
    `-A ${EGRESS_CHAIN} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${EGRESS_CHAIN} -p udp -j REJECT --reject-with ${unreachable}`,
  ];
  const restore = ['*nat', `:${REDIRECT_CHAIN} - [0:0]`, ...nat, 'COMMIT', '*filter', `:${EGRESS_CHAIN} - [0:0]`, ...filter, 'COMMIT', ''].join('\n');
  return {
    family,
    binary: family === 'ipv4' ? 'iptables' : 'ip6tables',
    restore,
    jumps: [
      { table: 'nat', chain: REDIRECT_CHAIN },
      { table: 'filter', chain: EGRESS_CHAIN },
    ],
  };
}

/** The rules as a shell script that does what `--apply` does: idempotent, safe to run again. */
export function rulesScript(rules: readonly FamilyRules[], header: string): string {
  const lines = ['#!/bin/sh', `# ${header}`, 'set -e'];
  for (const { binary, restore, jumps } of rules) {
    lines.push(`${binary}-restore --noflush <<'EOF'`, restore.trimEnd(), 'EOF');
    for (const { table, chain } of jumps) {
      lines.push(`${binary} -t ${table} -C OUTPUT -j ${chain} 2>/dev/null || ${binary} -t ${table} -I OUTPUT 1 -j ${chain}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Refused attempts by protocol, from `iptables -L CREDPROXY_EGRESS -n -v -x` output. */
export function blockedCounts(listing: string): { tcp: number; udp: number } {
  const counts = { tcp: 0, udp: 0 };
  for (const line of listing.split('\n')) {
    // pkts bytes target prot opt in out source destination [...]
    const [pkts, , target, prot] = line.trim().split(/\s+/);
    // The nft backend shows protocol numbers, the legacy one names.
    const protocol = prot === '6' ? 'tcp' : prot === '17' ? 'udp' : prot;
    if (target !== 'REJECT' || (protocol !== 'tcp' && protocol !== 'udp') || !/^\d+$/.test(pkts ?? '')) continue;
    counts[protocol] += Number(pkts);
  }
  return counts;
}

/** `nameserver` addresses of a resolv.conf. */
export function resolversOf(resolvConf: string): string[] {
  const found: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = match?.[1]?.split('%')[0];
    if (address !== undefined && isIP(address) !== 0) found.push(address);
  }
  return found;
}
