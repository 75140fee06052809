import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { CONFIG_SCHEMA, ENV_KEYS, type EnvKind, type FrozenConfig } from './schema.js';

export interface ConfigSources {
  /** Explicit config file (--config or CREDPROXY_CONFIG); must exist. */
  file?: string | undefined;
  /** Environment; only CREDPROXY_* keys are read. */
  env?: NodeJS.ProcessEnv;
  /** Command-line values by dotted key, e.g. { 'proxy.listen': '0.0.0.0:8080' }. */
  flags?: Record<string, unknown>;
  /** Directory relative paths are resolved against. Default process.cwd(). */
  cwd?: string;
}

type Tree = Record<string, unknown>;

/** Where the configuration came from, for the start-up log; never a value. */
export interface ConfigOrigins {
  /** The config file read, if any (absolute). */
  readonly file: string | undefined;
  /** Dotted key → the file path, `CREDPROXY_*` variable or `command line` that set it last. */
  readonly keys: ReadonlyMap<string, string>;
  /**
   * A key a later source took over from an earlier one that had set it to something other than
   * the built-in default, e.g. a variable of the image overriding the mounted config file.
   */
  readonly overridden: ReadonlyArray<{ readonly key: string; readonly by: string; readonly over: string }>;
}

/**
 * The one merge: built-in defaults ← config file ← CREDPROXY_* env ← flags, then validate and
 * deep-freeze. Throws ConfigError naming the key (and where its value came from).
 */
export function loadConfig(sources: ConfigSources = {}): FrozenConfig {
  return resolveConfig(sources).config;
}

/** loadConfig, also saying where each key's value came from. */
export function resolveConfig(sources: ConfigSources = {}): { config: FrozenConfig; origins: ConfigOrigins } {
  const cwd = sources.cwd ?? process.cwd();
  const env = sources.env ?? process.env;
  const origin = new Map<string, string>();
  const set = new Map<string, { value: unknown; from: string }>();
  const overridden: Array<{ key: string; by: string; over: string }> = [];
  const merged: Tree = {};
  const put = (key: string, value: unknown, from: string): void => {
    const before = set.get(key);
    if (before !== undefined && !isBuiltInDefault(key, before.value)) overridden.push({ key, by: from, over: before.from });
    set.set(key, { value, from });
    setPath(merged, key, value, origin, from);
  };

  const fileOption = sources.file ?? env.CREDPROXY_CONFIG ?? defaultFile(cwd);
  const file = fileOption === undefined ? undefined : resolve(cwd, fileOption);
  if (file) {
    const fromFile = readConfigFile(file);
    for (const [key, value] of flatten(fromFile)) put(key, value, file);
  }
  for (const { env: name, key, kind } of ENV_KEYS) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    put(key, fromEnvText(text, kind, name, key), name);
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value !== undefined) put(key, value, 'command line');
  }

  const result = CONFIG_SCHEMA.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join('.') || '(root)';
    const from = origin.get(key);
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; see config/default.yaml for the valid keys`
        : issue.message;
    throw new ConfigError(issue.code === 'unrecognized_keys' ? joinKey(key, issue.keys[0]!) : key, from ? `${message} (from ${from})` : message);
  }
  const config = result.data;
  config.dataDir = resolve(cwd, config.dataDir);
  config.ca.cert = resolve(cwd, config.ca.cert);
  config.ca.key = resolve(cwd, config.ca.key);
  if (config.upstream.caFile) config.upstream.caFile = resolve(cwd, config.upstream.caFile);
  return { config: deepFreeze(config), origins: { file, keys: origin, overridden } };
}

const BUILT_IN_DEFAULTS = CONFIG_SCHEMA.parse({});

/** True when `value` is what the key holds with no configuration at all (default.yaml's values). */
function isBuiltInDefault(key: string, value: unknown): boolean {
  let node: unknown = BUILT_IN_DEFAULTS;
  for (const part of key.split('.')) node = (node as Tree | undefined)?.[part];
  return JSON.stringify(node) === JSON.stringify(value);
}

function defaultFile(cwd: string): string | undefined {
  const candidate = resolve(cwd, 'config/default.yaml');
  return existsSync(candidate) ? candidate : undefined;
}

function readConfigFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError('config', `${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('config', `${path} must hold a YAML mapping`);
  return parsed as Tree;
}

function fromEnvText(text: string, kind: EnvKind, name: string, key: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'int': {
      if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(key, `expected a whole number (from ${name}="${text}")`);
      return Number(text.trim());
    }
    case 'boolean': {
      const v = text.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(key, `expected true or false (from ${name}="${text}")`);
    }
  }
}

/** Leaves of a parsed YAML tree as dotted keys; arrays are leaves. */
function flatten(tree: Tree, prefix = ''): Array<[string, unknown]> {
  return Object.entries(tree).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Tree, key) : [[key, v] as [string, unknown]];
  });
}

function setPath(tree: Tree, key: string, value: unknown, origin: Map<string, string>, from: string): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Tree;
  }
  node[parts.at(-1)!] = value;
  origin.set(key, from);
}

function joinKey(parent: string, child: string): string {
  return parent === '(root)' ? child : `${parent}.${child}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
