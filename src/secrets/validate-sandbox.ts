import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { canonicalIp, classifyAddress } from '../proxy/address-class.js';
import { badRequest, optionalString, optionalStringArray, optionalStringMap, readObject } from './body-fields.js';
import { isNetworkEntry } from './hostnames.js';
import { SANDBOX_RULES } from './sandbox-rules.js';
import { secretNameProblem } from './validate-secret.js';

/**
 * Validation of `POST /sandboxes` and `POST /sandboxes/{id}/secrets` bodies. Messages and limits
 * follow Superserve's sandbox handler (docs/contract.md#sandboxes; the rest from its Go source);
 * whether each referenced secret exists is the caller's check (`secret_not_found`).
 */

/** A validated sandbox create request. */
export interface SandboxDefinition {
  readonly name: string;
  /** ENV_KEY → secret name, in the client's order. */
  readonly secrets: Record<string, string>;
  readonly env_vars: Record<string, string>;
  readonly network: { allow_out: string[]; deny_out: string[] };
  readonly metadata: Record<string, unknown>;
  /** Where the sandbox's transparent-mode traffic comes from, one spelling each (see checkSourceAddresses). Default none. */
  readonly source_addresses?: string[];
  /** When its tokens stop authenticating, as toISOString() writes it (from `ttl` or `expires_at`); absent = never. */
  readonly expires_at?: string;
}

const MAX_SANDBOX_NAME_BYTES = 64;
const MAX_NETWORK_ENTRIES = 256;
const MAX_SOURCE_ADDRESSES = 16;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The longest `ttl`: ten years, far past any sandbox yet short of Date's range. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
// RFC 3339 date-time: a zone is required, so the instant is never the server's local guess.
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// C0 controls and DEL: a name is printed in logs, tables and audit rows.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/** Byte limits on a string map: Superserve's for env_vars and metadata. */
interface MapLimits {
  readonly maxKeys: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxTotalBytes: number;
}

const ENV_VARS_LIMITS: MapLimits = { maxKeys: 64, maxKeyBytes: 256, maxValueBytes: 8192, maxTotalBytes: 65536 };
const METADATA_LIMITS: MapLimits = { maxKeys: 64, maxKeyBytes: 256, maxValueBytes: 2048, maxTotalBytes: 16384 };

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function checkName(raw: string | undefined): string {
  const name = (raw ?? '').trim();
  if (name === '' || bytes(name) > MAX_SANDBOX_NAME_BYTES) badRequest('name is required and must be 1-64 characters');
  if (CONTROL_RE.test(name)) badRequest('name must not contain control characters');
  return name;
}

function checkNetworkList(entries: readonly string[], path: string): string[] {
  if (entries.length > MAX_NETWORK_ENTRIES) badRequest(`${path} has ${entries.length} entries, max is ${MAX_NETWORK_ENTRIES}`);
  entries.forEach((entry, i) => {
    if (!isNetworkEntry(entry)) badRequest(`${path}[${i}]: ${JSON.stringify(entry)} is not a valid host, IP address or CIDR`);
  });
  return [...entries];
}

function readNetwork(value: unknown): SandboxDefinition['network'] {
  if (value === undefined || value === null) return { allow_out: [], deny_out: [] };
  const obj = readObject(value, 'network', ['allow_out', 'deny_out']);
  return {
    allow_out: checkNetworkList(optionalStringArray(obj, 'allow_out', 'network') ?? [], 'network.allow_out'),
    deny_out: checkNetworkList(optionalStringArray(obj, 'deny_out', 'network') ?? [], 'network.deny_out'),
  };
}

/**
 * `source_addresses`: the IP addresses a sandbox's connections come from, which identify it to
 * the transparent listeners when `transparent.sandbox` is unset. Single addresses only: a range
 * would let one sandbox claim addresses handed out later to another. Each is stored in one
 * spelling (IPv4 dotted, IPv6 as RFC 5952, IPv4-mapped IPv6 as its IPv4), so duplicates and
 * claims compare equal. Messages quote an entry only once it is known to be an IP address.
 */
function checkSourceAddresses(entries: readonly string[]): string[] {
  if (entries.length > MAX_SOURCE_ADDRESSES) badRequest(`source_addresses has ${entries.length} entries, max is ${MAX_SOURCE_ADDRESSES}`);
  const seen = new Map<string, number>();
  return entries.map((raw, i) => {
    const path = `source_addresses[${i}]`;
    const text = raw.trim();
    if (text.includes('/')) badRequest(`${path} is a network range: list each address the sandbox's traffic comes from (CIDR ranges are not accepted)`);
    if (text.includes('%')) badRequest(`${path} has a zone id (%...): give the address alone`);
    if (!isIPv4(text) && !isIPv6(text)) badRequest(`${path} is not an IP address (one address per entry, e.g. 10.1.2.3 or fd00::5)`);
    const mapped = canonicalIp(text);
    const address = isIPv4(mapped) ? mapped : new SocketAddress({ address: text, family: 'ipv6' }).address;
    const kind = classifyAddress(address);
    if (kind === 'unspecified' || kind === 'multicast') badRequest(`${path}: ${address} is ${kind} and never the source of a connection`);
    const first = seen.get(address);
    if (first !== undefined) badRequest(`${path}: ${address} is listed twice (also source_addresses[${first}])`);
    seen.set(address, i);
    return address;
  });
}

/** Superserve's size rules for a string map; `label` names it in messages. */
function checkMapSizes(map: Record<string, string>, label: string, limits: MapLimits): void {
  const keys = Object.keys(map);
  if (keys.length > limits.maxKeys) badRequest(`${label} has ${keys.length} keys, max is ${limits.maxKeys}`);
  let total = 0;
  for (const key of keys) {
    const value = map[key] as string;
    if (key === '') badRequest(`${label} keys cannot be empty`);
    const keyBytes = bytes(key);
    const valueBytes = bytes(value);
    if (keyBytes > limits.maxKeyBytes) badRequest(`${label} key ${JSON.stringify(key)} is ${keyBytes} bytes, max is ${limits.maxKeyBytes}`);
    if (valueBytes > limits.maxValueBytes) {
      badRequest(`${label} value for key ${JSON.stringify(key)} is ${valueBytes} bytes, max is ${limits.maxValueBytes}`);
    }
    total += keyBytes + valueBytes;
    if (total > limits.maxTotalBytes) badRequest(`${label} exceeds ${limits.maxTotalBytes} bytes total`);
  }
}

function checkEnvVars(envVars: Record<string, string>): Record<string, string> {
  checkMapSizes(envVars, 'env_vars', ENV_VARS_LIMITS);
  for (const [key, value] of Object.entries(envVars)) {
    if (!ENV_KEY_RE.test(key)) badRequest(`env_vars key ${JSON.stringify(key)} is not a valid env-var name`);
    // A NUL cannot be passed in a process environment.
    if (value.includes('\0')) badRequest(`env_vars value for key ${JSON.stringify(key)} contains a NUL byte`);
  }
  return envVars;
}

/** Checks ENV_KEY → secret-name references (not their existence); returns them with names trimmed. */
function checkSecretRefs(refs: Record<string, string>): Record<string, string> {
  const count = Object.keys(refs).length;
  if (count > SANDBOX_RULES.maxBindings) badRequest(`secrets has ${count} entries, max is ${SANDBOX_RULES.maxBindings}`);
  return Object.fromEntries(
    Object.entries(refs).map(([envKey, rawName]) => {
      if (!ENV_KEY_RE.test(envKey)) badRequest(`secrets key ${JSON.stringify(envKey)} is not a valid env-var name`);
      const name = rawName.trim();
      const problem = secretNameProblem(name);
      if (problem) badRequest(`secrets[${envKey}]: ${problem}`);
      return [envKey, name];
    }),
  );
}

/**
 * `ttl` (whole seconds from now) or `expires_at` (RFC 3339, in the future), at most one of them;
 * the instant as toISOString() writes it, or undefined for a sandbox that never expires.
 */
function readExpiry(obj: Record<string, unknown>, now: number): string | undefined {
  const { ttl } = obj;
  const expiresAt = optionalString(obj, 'expires_at', '');
  if (ttl !== undefined && ttl !== null && expiresAt !== undefined) badRequest('ttl and expires_at are mutually exclusive; pick one');
  if (ttl !== undefined && ttl !== null) {
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) badRequest('ttl must be a positive integer (seconds)');
    if (ttl > MAX_TTL_SECONDS) badRequest(`ttl must be <= ${MAX_TTL_SECONDS} seconds (ten years)`);
    return new Date(now + ttl * 1000).toISOString();
  }
  if (expiresAt === undefined) return undefined;
  const at = RFC3339_RE.test(expiresAt) ? Date.parse(expiresAt) : Number.NaN;
  if (Number.isNaN(at)) badRequest('expires_at must be an RFC 3339 date-time with a zone, e.g. 2030-01-02T15:04:05Z');
  if (at <= now) badRequest('expires_at must be in the future');
  if (at > now + MAX_TTL_SECONDS * 1000) badRequest('expires_at must be within ten years');
  return new Date(at).toISOString();
}

/** Parses and validates a `POST /sandboxes` body; throws ApiError('bad_request'). `now` is for tests. */
export function parseCreateSandbox(body: unknown, now = Date.now()): SandboxDefinition {
  const obj = readObject(body, '', ['name', 'secrets', 'env_vars', 'network', 'metadata', 'source_addresses', 'ttl', 'expires_at']);
  const rawName = optionalString(obj, 'name', '');
  const secrets = optionalStringMap(obj, 'secrets', '') ?? {};
  const envVars = optionalStringMap(obj, 'env_vars', '') ?? {};
  const metadata = optionalStringMap(obj, 'metadata', '') ?? {};

  const name = checkName(rawName);
  const network = readNetwork(obj.network);
  const sourceAddresses = checkSourceAddresses(optionalStringArray(obj, 'source_addresses', '') ?? []);
  checkMapSizes(metadata, 'metadata', METADATA_LIMITS);
  checkEnvVars(envVars);
  const refs = checkSecretRefs(secrets);
  // env_vars and secrets share one environment namespace.
  for (const key of Object.keys(refs)) {
    if (Object.hasOwn(envVars, key)) badRequest(`env-var key ${JSON.stringify(key)} appears in both env_vars and secrets; pick one`);
  }
  const expires = readExpiry(obj, now);
  return { name, secrets: refs, env_vars: envVars, network, metadata, source_addresses: sourceAddresses, ...(expires && { expires_at: expires }) };
}

/** Parses a `POST /sandboxes/{id}/secrets` body `{env_key, secret_name}` with the same rules as one `secrets` entry. */
export function parseAttachBinding(body: unknown): { env_key: string; secret_name: string } {
  const obj = readObject(body, '', ['env_key', 'secret_name']);
  const envKey = optionalString(obj, 'env_key', '') ?? '';
  const secretName = optionalString(obj, 'secret_name', '') ?? '';
  const refs = checkSecretRefs({ [envKey]: secretName });
  return { env_key: envKey, secret_name: refs[envKey] as string };
}
