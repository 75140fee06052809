import { BlockList, isIP } from 'node:net';
import { canonicalHost } from '../proxy/address-class.js';
import { compileHostPattern } from './host-pattern.js';
import type { NetworkPolicyRecord } from './source.js';

/** The verdict on one host, with the reason (for the connection row's match_rule and 403 bodies). */
export interface EgressDecision {
  readonly allowed: boolean;
  /** Set when refused. */
  readonly code: 'host_denied' | 'host_not_allowed' | undefined;
  explain(): string;
}

/** A sandbox's `network.allow_out` / `network.deny_out`, compiled once. */
export interface NetworkPolicy {
  decide(host: string): EgressDecision;
  explain(): string;
}

interface NetworkEntry {
  readonly source: string;
  matches(host: string): boolean;
}

const OPEN: EgressDecision = { allowed: true, code: undefined, explain: () => 'no network rule applies' };

/** The policy of a sandbox without network rules. */
export const OPEN_NETWORK: NetworkPolicy = { decide: () => OPEN, explain: () => 'network: open' };

/**
 * Superserve's semantics (docs.superserve.ai/sandbox/networking): entries are IPs, CIDRs or
 * domains (`*.example.com` = subdomains at any depth, not the apex), and allow wins over deny, so
 * `allow_out: [a], deny_out: ["0.0.0.0/0"]` means "only a". Order:
 *   1. an allow_out entry matches → allowed;
 *   2. allow_out is non-empty → host_not_allowed (credproxy reads a non-empty allow_out as an
 *      allowlist even without a deny-all, the safer reading);
 *   3. a deny_out entry matches → host_denied;
 *   4. otherwise allowed.
 * IPs and CIDRs match IP-literal hosts only (the names are decided before DNS), in any spelling
 * (canonicalHost); a `/0` covers every host, names included. deny_out domains, which Superserve refuses, are honoured if stored.
 */
export function compileNetworkPolicy(record: NetworkPolicyRecord): NetworkPolicy {
  if (record.allow_out.length === 0 && record.deny_out.length === 0) return OPEN_NETWORK;
  const allow = record.allow_out.map(compileEntry);
  const deny = record.deny_out.map(compileEntry);
  const allowDecisions = allow.map((e): EgressDecision => {
    const text = `network.allow_out ${e.source}`;
    return { allowed: true, code: undefined, explain: () => text };
  });
  const allowText = allow.map((e) => e.source).join(', ');
  const text = `network: allow_out [${allowText}], deny_out [${deny.map((e) => e.source).join(', ')}]`;
  return {
    decide: (target) => {
      // Decided on the address a numeric spelling stands for (2130706433 is 127.0.0.1), whatever the entry point.
      const host = canonicalHost(target) ?? target;
      for (let i = 0; i < allow.length; i++) if (allow[i]!.matches(host)) return allowDecisions[i]!;
      if (allow.length > 0) return refused('host_not_allowed', `network.allow_out (${allowText}) does not include ${host}`);
      const denied = deny.find((e) => e.matches(host));
      return denied ? refused('host_denied', `network.deny_out ${denied.source} covers ${host}`) : OPEN;
    },
    explain: () => text,
  };
}

function refused(code: 'host_denied' | 'host_not_allowed', text: string): EgressDecision {
  return { allowed: false, code, explain: () => text };
}

function compileEntry(raw: string): NetworkEntry {
  const source = raw.trim().toLowerCase();
  const slash = source.indexOf('/');
  const written = slash < 0 ? source : source.slice(0, slash);
  const address = canonicalHost(written) ?? written;
  const family = isIP(address);
  if (family === 0) {
    if (slash >= 0) return { source, matches: () => false }; // not a CIDR: the API refuses these
    const pattern = compileHostPattern(source, 'any');
    return { source, matches: (host) => pattern.matches(host) };
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  // ::ffff:a.b.c.d/104 is written for the IPv4 address it maps: its prefix counts 96 more bits.
  const mappedBits = family === 4 && isIP(written) === 6 ? 96 : 0;
  const prefix = slash < 0 ? (family === 4 ? 32 : 128) : Number(source.slice(slash + 1)) - mappedBits;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return { source, matches: () => false };
  if (prefix === 0) return { source, matches: () => true };
  const list = new BlockList();
  list.addSubnet(address, prefix, type);
  return {
    source,
    matches: (host) => {
      const hostFamily = isIP(host);
      return hostFamily !== 0 && list.check(host, hostFamily === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
