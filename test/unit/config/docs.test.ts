import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_SCHEMA, derivedEnvName, ENV_KEYS } from '../../../src/config/schema.js';

const readme = readFileSync('README.md', 'utf8');
const defaultYaml = readFileSync('config/default.yaml', 'utf8');
const defaults = CONFIG_SCHEMA.parse({}) as Record<string, unknown>;

/** The README's configuration table: key → [env cell, default cell]. */
function readmeTable(): Map<string, [string, string]> {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration'))!;
  const rows = [...section.matchAll(/^\| `([A-Za-z.]+)` \| `(CREDPROXY_[A-Z_]+)`[^|]* \| [^|]* \| (.*) \|$/gm)];
  return new Map(rows.map((m) => [m[1]!, [m[2]!, m[3]!]]));
}

function defaultOf(key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], defaults);
}

test('every config key has exactly one variable, and the README and default.yaml name it', () => {
  const names = ENV_KEYS.map((k) => k.env);
  assert.equal(new Set(names).size, names.length, 'no two keys share a variable');
  const table = readmeTable();
  assert.deepEqual([...table.keys()].sort(), ENV_KEYS.map((k) => k.key).sort(), 'the README table lists every key');
  for (const { key, env } of ENV_KEYS) {
    assert.equal(table.get(key)![0], env, `README: ${key} is set by ${env}`);
    assert.ok(defaultYaml.includes(`env ${env}`), `config/default.yaml names ${env}`);
  }
});

test('the README gives each key its built-in default', () => {
  for (const [key, [, cell]] of readmeTable()) {
    const value = defaultOf(key);
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    assert.ok(cell.startsWith(`\`${String(value)}\``), `${key}: README says "${cell}", the schema ${JSON.stringify(value)}`);
  }
});

test('variables are derived from the key, except the six names docs/contract.md#config and the four fleet mode fixed first', () => {
  const exceptions = ENV_KEYS.filter((k) => k.env !== derivedEnvName(k.key))
    .map((k) => `${k.key}=${k.env}`)
    .sort();
  assert.deepEqual(exceptions, [
    'admin.apiKey=CREDPROXY_API_KEY',
    'admin.metricsAuth=CREDPROXY_METRICS_AUTH',
    'egress.allowPrivateNetworks=CREDPROXY_ALLOW_PRIVATE',
    'fleet.controlUrl=CREDPROXY_CONTROL_URL',
    'fleet.databaseUrl=CREDPROXY_DATABASE_URL',
    'fleet.role=CREDPROXY_ROLE',
    'fleet.sidecarToken=CREDPROXY_SIDECAR_TOKEN',
    'proxy.requireAuth=CREDPROXY_REQUIRE_PROXY_AUTH',
    'upstream.caFile=CREDPROXY_UPSTREAM_CA',
    'upstream.resolve=CREDPROXY_RESOLVE',
  ]);
  assert.equal(derivedEnvName('proxy.idleTimeoutMs'), 'CREDPROXY_PROXY_IDLE_TIMEOUT_MS');
});
