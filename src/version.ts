import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This build's version: from the nearest package.json named credproxy above this module, which is
 * one level up from src/ and dist/, two from a test bundle's chunk. Read once, at load.
 */
export const VERSION: string = findVersion(dirname(fileURLToPath(import.meta.url)));

function findVersion(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'credproxy' && pkg.version) return pkg.version;
    } catch {
      // No package.json here (or not ours): keep looking upwards.
    }
    if (dirname(dir) === dir) throw new Error(`no credproxy package.json above ${from}`);
  }
}
