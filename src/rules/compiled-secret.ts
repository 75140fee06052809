import { findAuthShape, type AuthRule, type AuthType } from '../auth-shapes/index.js';
import { findProvider } from '../secrets/providers.js';
import type { SecretValue } from '../secrets/secret-value.js';
import { compileHostPatternList, type HostPatternList } from './host-pattern.js';
import { compileInjector, type Injector } from './inject.js';
import type { SecretRuleRecord } from './source.js';

/** One way a secret may be sent: the hosts it applies to and how it is written. */
export interface CompiledRule {
  readonly hosts: HostPatternList;
  readonly injector: Injector;
  /** `secret "github" per_host[1] allows github.com (basic)`: the audit's match_rule. */
  readonly explanation: string;
}

/**
 * A secret compiled once per load: its shapes (where its stand-ins are looked for), its rules
 * (where and how the real value goes) and the value itself, still wrapped.
 */
export interface CompiledSecret {
  readonly id: string;
  readonly name: string;
  readonly authType: AuthType;
  readonly hosts: HostPatternList;
  /**
   * Every auth shape its stand-ins are looked for in: per_host lists each rule's, and a provider
   * secret adds the other shapes its provider's API accepts (catalogue `alsoAccepts`).
   */
  readonly shapes: readonly AuthRule[];
  readonly value: SecretValue;
  /** `auth.allow_range`: requests carrying it keep Range / If-Range (stripped otherwise). */
  readonly allowRange: boolean;
  /**
   * The rule to inject with for a host, if any: a stand-in that arrived in one of the provider's
   * other accepted shapes leaves in that shape; otherwise per_host takes the first rule whose
   * hosts match, whatever the arrival shape.
   */
  ruleFor(host: string, arrived?: AuthRule): CompiledRule | undefined;
  /** `secret "openai" allows api.openai.com, not api.evil.com` */
  explainMismatch(host: string): string;
}

/** Throws a plain Error naming the secret (never its value) when the stored config is unusable. */
export function compileSecret(record: SecretRuleRecord, value: SecretValue): CompiledSecret {
  const hosts = compileHostPatternList(record.hosts);
  const label = { id: record.id, name: record.name };
  const quoted = JSON.stringify(record.name);
  const parsed = parseAuthConfig(record);
  const rules: CompiledRule[] = parsed.map(({ shape, hosts: ruleHosts }, i) => {
    const list = ruleHosts ? compileHostPatternList(ruleHosts) : hosts;
    const where = ruleHosts ? ` per_host[${i}]` : '';
    return {
      hosts: list,
      injector: compileInjector(shape, label),
      explanation: `secret ${quoted}${where} allows ${list.explain()} (${shape.type})`,
    };
  });
  // Shapes the provider's API takes besides the stored one, each injected as it arrived.
  const provider = record.provider ? findProvider(record.provider) : undefined;
  const alternates = new Map<AuthRule, CompiledRule>(
    (provider?.alsoAccepts ?? []).map((shape) => [
      shape,
      {
        hosts,
        injector: compileInjector(shape, label),
        explanation: `secret ${quoted} allows ${hosts.explain()} (${shape.type}, also accepted by ${provider!.name})`,
      },
    ]),
  );
  return {
    id: record.id,
    name: record.name,
    authType: record.authType,
    hosts,
    shapes: [...parsed.map((p) => p.shape), ...alternates.keys()],
    value,
    allowRange: record.authConfig.allow_range === true,
    ruleFor: (host, arrived) => {
      if (!hosts.matches(host)) return undefined;
      return (arrived && alternates.get(arrived)) ?? rules.find((r) => r.hosts.matches(host));
    },
    explainMismatch: (host) => `secret ${quoted} allows ${hosts.explain()}, not ${host}`,
  };
}

interface ParsedRule {
  readonly shape: AuthRule;
  /** Only for per_host rules. */
  readonly hosts: readonly string[] | undefined;
}

function parseAuthConfig(record: SecretRuleRecord): ParsedRule[] {
  const config = record.authConfig;
  if (record.authType !== 'per_host') return [{ shape: parseShape(record.authType, config, record.name), hosts: undefined }];
  const list = config.per_host;
  if (!Array.isArray(list) || list.length === 0) throw invalid(record.name, 'per_host has no rules');
  return list.map((entry: unknown) => {
    const rule = asObject(entry, record.name);
    const hosts = rule.hosts;
    if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string')) throw invalid(record.name, 'per_host rule without hosts');
    return { shape: parseShape(rule.type, rule, record.name), hosts };
  });
}

function parseShape(type: unknown, config: Readonly<Record<string, unknown>>, secretName: string): AuthRule {
  const shape = findAuthShape(type);
  if (!shape) throw invalid(secretName, `unknown auth type ${JSON.stringify(type)}`);
  return shape.parse(config, (why) => invalid(secretName, why));
}

function asObject(value: unknown, secretName: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(secretName, 'malformed auth_config');
  return value as Record<string, unknown>;
}

function invalid(secretName: string, why: string): Error {
  return new Error(`secret ${JSON.stringify(secretName)}: ${why}`);
}
