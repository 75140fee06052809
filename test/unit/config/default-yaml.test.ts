import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { CONFIG_SCHEMA } from '../../../src/config/schema.js';

const FILE = resolve('config/default.yaml');

interface ZodDefLike {
  type: string;
  innerType?: { _zod: { def: ZodDefLike } };
  shape?: Record<string, { _zod: { def: ZodDefLike } }>;
}

/** Dotted keys of every leaf of the schema, looking through default/optional/prefault wrappers. */
function schemaLeaves(def: ZodDefLike, prefix = ''): string[] {
  while (def.innerType) def = def.innerType._zod.def;
  if (def.type !== 'object' || !def.shape) return [prefix];
  return Object.entries(def.shape).flatMap(([k, v]) => schemaLeaves(v._zod.def, prefix ? `${prefix}.${k}` : k));
}

function yamlLeaves(tree: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? yamlLeaves(v as Record<string, unknown>, key) : [key];
  });
}

/** Keys shown only as commented-out examples (`# key: value`), with the example's text. */
function commentedKeys(text: string): Map<string, string> {
  let section = '';
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const top = /^([A-Za-z]\w*):/.exec(line);
    if (top) section = top[1]!;
    const commented = /^(\s*)# ([a-z]\w*): (\S.*)$/.exec(line);
    if (commented) keys.set(commented[1] === '' ? commented[2]! : `${section}.${commented[2]}`, commented[3]!);
  }
  return keys;
}

test('config/default.yaml yields exactly the built-in defaults', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'credproxy-default-yaml-'));
  try {
    const fromFile = loadConfig({ file: FILE, env: {}, cwd });
    const builtIn = loadConfig({ env: {}, cwd });
    assert.deepEqual(fromFile, builtIn);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('config/default.yaml shows every schema key, set or as a commented-out example', () => {
  const text = readFileSync(FILE, 'utf8');
  const set = yamlLeaves(parseYaml(text) as Record<string, unknown>);
  const commented = commentedKeys(text);
  const expected = schemaLeaves(CONFIG_SCHEMA._zod.def as unknown as ZodDefLike).sort();
  assert.deepEqual([...set, ...commented.keys()].sort(), expected);
  for (const optional of ['admin.apiKey', 'masterKey', 'upstream.caFile', 'sandbox.proxyUrl', 'sandbox.caPath']) {
    assert.ok(commented.has(optional), `${optional} is optional and should be shown commented out`);
  }
});

test('the commented-out examples are valid once uncommented (placeholders for keys excepted)', () => {
  const examples = commentedKeys(readFileSync(FILE, 'utf8'));
  // The two keys are placeholders on purpose: a working example would get copied into production.
  examples.delete('admin.apiKey');
  examples.delete('masterKey');
  const cwd = mkdtempSync(join(tmpdir(), 'credproxy-default-yaml-'));
  try {
    const flags = Object.fromEntries([...examples].map(([key, text]) => [key, parseYaml(text) as unknown]));
    const config = loadConfig({ env: {}, cwd, flags });
    assert.equal(config.sandbox.caPath, examples.get('sandbox.caPath'));
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
