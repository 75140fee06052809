import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_ERRORS, REJECTIONS, STARTUP_ERROR_CODES } from '../../src/errors.js';
import { EXIT_FAILURE, EXIT_USAGE } from '../../src/cli/cli-error.js';

const doc = readFileSync('docs/errors.md', 'utf8');

/** The table rows of one `## heading` section, as code → status (or exit code: `digits` 1). */
function tableOf(heading: string, digits = 3): Map<string, number> {
  const section = doc.split(/^## /m).find((s) => s.startsWith(heading));
  assert.ok(section, `docs/errors.md has a "${heading}" section`);
  const rows = [...section.matchAll(new RegExp(`^\\| \`([a-z_]+)\` \\| (\\d{${digits}}) \\|`, 'gm'))];
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

test('docs/errors.md documents every start-up error with exit 2, as serve exits', () => {
  assert.deepEqual(tableOf('Configuration errors', 1), new Map(STARTUP_ERROR_CODES.map((code) => [code, EXIT_USAGE])));
});

test('docs/errors.md lists the CLI exit codes the CLI uses', () => {
  const section = doc.split(/^## /m).find((s) => s.startsWith('CLI exit codes'));
  assert.ok(section);
  const codes = [...section.matchAll(/^\| (\d) \|/gm)].map((m) => Number(m[1]));
  assert.deepEqual(codes, [0, EXIT_FAILURE, EXIT_USAGE]);
});
