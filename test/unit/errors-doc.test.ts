import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_ERRORS, ConfigError, REJECTIONS } from '../../src/errors.js';

const doc = readFileSync('docs/errors.md', 'utf8');

/** The table rows of one `## heading` section, as code → status. */
function tableOf(heading: string): Map<string, number> {
  const section = doc.split(/^## /m).find((s) => s.startsWith(heading));
  assert.ok(section, `docs/errors.md has a "${heading}" section`);
  const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)];
  return new Map(rows.map((m) => [m[1]!, Number(m[2])]));
}

test('docs/errors.md lists every proxy rejection code with its status', () => {
  const documented = tableOf('Proxy rejections');
  const expected = new Map(Object.entries(REJECTIONS).map(([code, { status }]) => [code, status]));
  assert.deepEqual(documented, expected);
});

test('docs/errors.md lists every admin API error code with its status', () => {
  assert.deepEqual(tableOf('Admin API errors'), new Map(Object.entries(API_ERRORS)));
});

test('docs/errors.md documents the configuration error and its exit code', () => {
  assert.match(doc, new RegExp(`^\\| \`${new ConfigError('k', 'm').code}\` \\| 2 \\|`, 'm'));
});
