import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Source, tests and docs cite the contract as `docs/contract.md#<anchor>` (or `contract.md#…` inside docs/). */
const CITATION = /contract\.md#([a-z0-9-]+)/g;
const contract = readFileSync('docs/contract.md', 'utf8');
const anchors = new Set([...contract.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]!));

/** The .ts and .md files under dir, this test excepted (it names the patterns it looks for). */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return files(path);
    return /\.(ts|md)$/.test(e.name) && path !== join('test', 'unit', 'contract-doc.test.ts') ? [path] : [];
  });
}

test('every docs/contract.md#anchor cited in src, test, docs and the README exists', () => {
  const cited = new Map<string, string>();
  for (const file of [...files('src'), ...files('test'), ...files('docs'), 'README.md']) {
    for (const m of readFileSync(file, 'utf8').matchAll(CITATION)) cited.set(m[1]!, file);
  }
  assert.ok(cited.size > 10, 'the code cites the contract');
  for (const [anchor, file] of cited) assert.ok(anchors.has(anchor), `${file} cites #${anchor}, which docs/contract.md lacks`);
});

test('no source file cites a document that is not in the repository', () => {
  for (const file of [...files('src'), ...files('test')]) {
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /CONTRACT §|superserve-api-facts|\bseed 00\d/, file);
  }
});
