import { AUTH_SHAPE_NAMES, findAuthShape, SHAPE_INPUT_FIELDS, type AuthType, type ShapeInput } from '../auth-shapes/index.js';
import {
  badRequest,
  optionalArray,
  optionalBoolean,
  optionalString,
  optionalStringArray,
  optionalStringMap,
  readObject,
  type JsonObject,
} from './body-fields.js';
import { isSecretHostPattern, overbroadWildcardSuffix, patternCovers, patternsOverlap } from './hostnames.js';
import { findProvider, providerNameList } from './providers.js';

/**
 * Validation of `POST /secrets` and `PATCH /secrets/{name}` bodies with Superserve's rules and
 * messages (docs/contract.md#secret-validation; the order of checks follows Superserve's handler, so the
 * first problem reported is the same one Superserve reports).
 */

/** A validated secret, ready to store. `authConfig` is exactly the API's `auth_config`. */
export interface SecretDefinition {
  readonly name: string;
  readonly value: string;
  readonly provider: string | null;
  readonly authType: AuthType;
  readonly authConfig: Record<string, unknown>;
  readonly hosts: string[];
}

const MAX_NAME_LENGTH = 128;
const MAX_VALUE_BYTES = 8192;
const MAX_HOSTS = 16;
const MAX_PER_HOST_RULES = 16;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/**
 * `auth.allow_range: true` (credproxy's, not Superserve's): requests carrying this secret keep
 * `Range`/`If-Range`. Without it they are stripped, since a 206 fragment of an echo cannot be
 * scrubbed across fragments. Stored in auth_config only when true, so other secrets keep
 * Superserve's exact shape.
 */
const ALLOW_RANGE = 'allow_range';

interface PerHostInput extends ShapeInput {
  readonly hosts: string[];
}

interface AuthInput extends ShapeInput {
  readonly perHost: PerHostInput[] | undefined;
  /** credproxy's own opt-in: Range requests keep their Range header when this secret is injected. */
  readonly allowRange: boolean;
}

/** Superserve's name rule; undefined when `name` (already trimmed) is acceptable. */
export function secretNameProblem(name: string): string | undefined {
  if (name === '') return 'name is required';
  // Superserve counts bytes (Go's len); names that pass the pattern are ASCII anyway.
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_LENGTH) return `name exceeds ${MAX_NAME_LENGTH} characters`;
  if (!NAME_RE.test(name)) return "name must start with a letter or underscore and contain only letters, digits, '_', '-'";
  return undefined;
}

function checkValue(value: string): void {
  if (value === '') badRequest('value is required');
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) badRequest(`value exceeds ${MAX_VALUE_BYTES} bytes`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

function readRuleFields(obj: JsonObject, path: string): ShapeInput {
  const headers = optionalStringMap(obj, 'headers', path);
  return {
    type: nonEmpty(optionalString(obj, 'type', path)),
    header: nonEmpty(optionalString(obj, 'header', path)),
    prefix: nonEmpty(optionalString(obj, 'prefix', path)),
    username: nonEmpty(optionalString(obj, 'username', path)),
    headers: headers && Object.keys(headers).length > 0 ? headers : undefined,
  };
}

function readAuth(value: unknown): AuthInput {
  const obj = readObject(value, 'auth', [...SHAPE_INPUT_FIELDS, 'per_host', ALLOW_RANGE]);
  const rules = optionalArray(obj, 'per_host', 'auth')?.map((item, i): PerHostInput => {
    const path = `auth.per_host[${i}]`;
    const rule = readObject(item, path, ['hosts', ...SHAPE_INPUT_FIELDS]);
    return { ...readRuleFields(rule, path), hosts: optionalStringArray(rule, 'hosts', path) ?? [] };
  });
  return {
    ...readRuleFields(obj, 'auth'),
    perHost: rules && rules.length > 0 ? rules : undefined,
    allowRange: optionalBoolean(obj, ALLOW_RANGE, 'auth') ?? false,
  };
}

/** Trims `hosts` and checks count, syntax and public-suffix wildcards; `path` prefixes messages of per_host rules. */
function checkHosts(hosts: readonly string[], path: string): string[] {
  const at = path === '' ? '' : `${path}: `;
  if (hosts.length === 0) badRequest(`${at}hosts is required (at least one upstream)`);
  if (hosts.length > MAX_HOSTS) badRequest(`${at}hosts has ${hosts.length} entries, max is ${MAX_HOSTS}`);
  return hosts.map((raw, i) => {
    const host = raw.trim();
    if (!isSecretHostPattern(host)) badRequest(`${at}hosts[${i}]: ${JSON.stringify(host)} is not a valid hostname`);
    const suffix = overbroadWildcardSuffix(host);
    if (suffix !== undefined) {
      badRequest(`${at}wildcard ${JSON.stringify(host)} is too broad — ${JSON.stringify(suffix)} is a public suffix; narrow to a specific subdomain`);
    }
    return host;
  });
}

/** Checks one auth shape and returns its stored fields (the rule minus `type`). */
function checkShape(rule: ShapeInput, path: string): Record<string, unknown> {
  if (rule.type === undefined) return badRequest(`${path}.type is required`);
  const shape = findAuthShape(rule.type);
  if (!shape) return badRequest(`${path}.type ${JSON.stringify(rule.type)} is not supported (got: ${AUTH_SHAPE_NAMES})`);
  return shape.validate(rule, path, badRequest);
}

function rangeOptIn(auth: AuthInput): Record<string, unknown> {
  return auth.allowRange ? { [ALLOW_RANGE]: true } : {};
}

/** Validates per_host rules against the (checked) top-level hosts; returns the stored rule list. */
function checkPerHost(rules: readonly PerHostInput[], allowed: readonly string[]): Record<string, unknown>[] {
  if (rules.length > MAX_PER_HOST_RULES) badRequest(`auth.per_host has ${rules.length} rules, max is ${MAX_PER_HOST_RULES}`);
  const seen: { rule: number; host: string }[] = [];
  return rules.map((rule, i) => {
    const path = `auth.per_host[${i}]`;
    const hosts = checkHosts(rule.hosts, path);
    for (const host of hosts) {
      if (!allowed.some((pattern) => patternCovers(pattern, host))) {
        badRequest(`${path}.hosts: ${JSON.stringify(host)} is not reachable from the top-level hosts allowlist`);
      }
      const clash = seen.find((prev) => patternsOverlap(host, prev.host));
      if (clash) {
        badRequest(`${path}.hosts: ${JSON.stringify(host)} overlaps with auth.per_host[${clash.rule}].hosts ${JSON.stringify(clash.host)}`);
      }
      seen.push({ rule: i, host });
    }
    return { hosts, type: rule.type, ...checkShape(rule, path) };
  });
}

function resolveExplicitAuth(auth: AuthInput | undefined, rawHosts: readonly string[]): Pick<SecretDefinition, 'authType' | 'authConfig' | 'hosts'> {
  if (!auth) badRequest('auth is required when provider is not set');
  const { perHost } = auth;
  if (perHost) {
    if (auth.type || auth.header || auth.prefix || auth.username || auth.headers) {
      badRequest('auth.per_host is mutually exclusive with auth.type and the type-specific fields');
    }
    const hosts = checkHosts(rawHosts, '');
    return { authType: 'per_host', authConfig: { per_host: checkPerHost(perHost, hosts), ...rangeOptIn(auth) }, hosts };
  }
  if (!auth.type) badRequest('auth.type or auth.per_host is required');
  // The shape's own errors come before the hosts', as in Superserve.
  const authConfig = { ...checkShape(auth, 'auth'), ...rangeOptIn(auth) };
  return { authType: auth.type as AuthType, authConfig, hosts: checkHosts(rawHosts, '') };
}

/** Parses and validates a `POST /secrets` body; throws ApiError('bad_request') with Superserve's message. */
export function parseCreateSecret(body: unknown): SecretDefinition {
  const obj = readObject(body, '', ['name', 'value', 'provider', 'auth', 'hosts']);
  const name = (optionalString(obj, 'name', '') ?? '').trim();
  const value = optionalString(obj, 'value', '') ?? '';
  const provider = (optionalString(obj, 'provider', '') ?? '').trim();
  const auth = obj.auth === undefined || obj.auth === null ? undefined : readAuth(obj.auth);
  const hosts = optionalStringArray(obj, 'hosts', '') ?? [];

  const nameProblem = secretNameProblem(name);
  if (nameProblem) badRequest(nameProblem);
  checkValue(value);

  const explicit = auth !== undefined || hosts.length > 0;
  if (provider !== '' && explicit) badRequest('provider is mutually exclusive with auth/hosts; pick one');
  if (provider === '' && !explicit) badRequest(`must specify either provider (one of: ${providerNameList()}) or auth + hosts`);
  if (provider === '') return { name, value, provider: null, ...resolveExplicitAuth(auth, hosts) };

  const shortcut = findProvider(provider);
  if (!shortcut) badRequest(`provider ${JSON.stringify(provider)} is not supported (got: ${providerNameList()})`);
  return {
    name,
    value,
    provider: shortcut.name,
    authType: shortcut.auth_type,
    authConfig: structuredClone(shortcut.auth_config) as Record<string, unknown>,
    hosts: [...shortcut.hosts],
  };
}

/** Parses a `PATCH /secrets/{name}` (rotate) body: `{"value"}` and nothing else. */
export function parseRotateSecret(body: unknown): { value: string } {
  const obj = readObject(body, '', ['value']);
  const value = optionalString(obj, 'value', '') ?? '';
  checkValue(value);
  return { value };
}
