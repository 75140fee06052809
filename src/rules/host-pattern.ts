/**
 * How far a `*.` wildcard reaches: `one` = exactly one more label (a secret's `hosts`,
 * docs/contract.md#host-patterns); `any` = one or more labels (Superserve's `network.allow_out` domains).
 */
export type WildcardDepth = 'one' | 'any';

/** A compiled host pattern: exact (`api.example.com`) or wildcard (`*.example.com`). */
export interface HostPattern {
  /** The pattern as configured, lowercased; also what explain() shows. */
  readonly source: string;
  /** `host` is a name or IP literal without port; compared case-insensitively. */
  matches(host: string): boolean;
  explain(): string;
}

/** Several patterns that match when any of them does, e.g. a secret's `hosts`. */
export interface HostPatternList {
  readonly patterns: readonly HostPattern[];
  matches(host: string): boolean;
  /** `a.example.com, *.example.org` */
  explain(): string;
}

/** Lowercases and drops a trailing root dot (`api.example.com.` names the same host). */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Compiles a pattern once; matching is string comparison only (no regex). */
export function compileHostPattern(pattern: string, depth: WildcardDepth = 'one'): HostPattern {
  const source = normalizeHost(pattern.trim());
  if (!source.startsWith('*.')) {
    return {
      source,
      matches: (host) => normalizeHost(host) === source,
      explain: () => source,
    };
  }
  const suffix = source.slice(1); // `.example.com`
  return {
    source,
    matches: (rawHost) => {
      const host = normalizeHost(rawHost);
      const labelEnd = host.length - suffix.length;
      if (labelEnd <= 0 || !host.endsWith(suffix) || host.charCodeAt(labelEnd - 1) === 0x2e) return false;
      // `one`: the part before the suffix must be a single label (no dot in it).
      return depth === 'any' || host.indexOf('.') === labelEnd;
    },
    explain: () => source,
  };
}

export function compileHostPatternList(patterns: readonly string[], depth: WildcardDepth = 'one'): HostPatternList {
  const compiled = patterns.map((p) => compileHostPattern(p, depth));
  const text = compiled.map((p) => p.source).join(', ');
  return {
    patterns: compiled,
    matches: (host) => compiled.some((p) => p.matches(host)),
    explain: () => text,
  };
}
