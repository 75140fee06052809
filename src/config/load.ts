import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { CONFIG_SCHEMA, ENV_KEYS, type FrozenConfig } from './schema.js';

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

/**
 * The one merge: built-in defaults ← config file ← CREDPROXY_* env ← flags, then validate and
 * deep-freeze. Throws ConfigError naming the key (and where its value came from).
 */
export function loadConfig(sources: ConfigSources = {}): FrozenConfig {
  const cwd = sources.cwd ?? process.cwd();
  const env = sources.env ?? process.env;
  const origin = new Map<string, string>();
  const merged: Tree = {};

  const file = sources.file ?? env.CREDPROXY_CONFIG ?? defaultFile(cwd);
  if (file) {
    const fromFile = readConfigFile(resolve(cwd, file));
    for (const [key, value] of flatten(fromFile)) setPath(merged, key, value, origin, `${file}`);
  }
  for (const { env: name, key, kind } of ENV_KEYS) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    setPath(merged, key, fromEnvText(text, kind, name, key), origin, name);
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value !== undefined) setPath(merged, key, value, origin, 'command line');
  }

  const result = CONFIG_SCHEMA.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join('.') || '(root)';
    const from = origin.get(key);
    const message = issue.code === 'unrecognized_keys'
      ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; see config/default.yaml for the valid keys`
      : issue.message;
    throw new ConfigError(issue.code === 'unrecognized_keys' ? joinKey(key, issue.keys[0]!) : key, from ? `${message} (from ${from})` : message);
  }
  const config = result.data;
  config.dataDir = resolve(cwd, config.dataDir);
  config.ca.cert = resolve(cwd, config.ca.cert);
  config.ca.key = resolve(cwd, config.ca.key);
  if (config.upstream.caFile) config.upstream.caFile = resolve(cwd, config.upstream.caFile);
  return deepFreeze(config);
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

function fromEnvText(text: string, kind: 'string' | 'boolean' | 'int' | 'list', name: string, key: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'list':
      return text.split(',').map((s) => s.trim()).filter(Boolean);
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
