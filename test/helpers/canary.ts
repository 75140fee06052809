import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Distinctive real values planted in a test (docs/contract.md#never-leak) and a search for every way one can be
 * written down: raw, hex, and base64 / base64url at each of the three byte alignments, so
 * `base64("user:" + value)` in a Basic header or a value inside a longer encoded blob is found
 * too. Values are alphanumeric, so JSON and URL escaping leave them as they are.
 */
export class CanarySet {
  readonly #values = new Map<string, string>();
  /** label → needles (raw, hex, base64 fragments). */
  readonly #needles = new Map<string, string[]>();

  /** A new canary: `<prefix>CANARY<label><24 random alnum>`; prefix keeps provider key shapes. */
  add(label: string, prefix = ''): string {
    const value = `${prefix}CANARY${label.replace(/[^A-Za-z0-9]/g, '')}${randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 20)}`;
    this.#values.set(label, value);
    this.#needles.set(label, needlesFor(value));
    return value;
  }

  get(label: string): string {
    const value = this.#values.get(label);
    if (value === undefined) throw new Error(`no canary ${label}`);
    return value;
  }

  get values(): string[] {
    return [...this.#values.values()];
  }

  /** Labels of the canaries found in `haystack`, in any form. */
  find(haystack: string | Buffer): string[] {
    const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
    const found: string[] = [];
    for (const [label, needles] of this.#needles) {
      if (needles.some((needle) => text.includes(needle))) found.push(label);
    }
    return found;
  }

  /** Fails naming `where` and the canaries found there. */
  assertAbsent(where: string, haystack: string | Buffer | unknown): void {
    const text = typeof haystack === 'string' || Buffer.isBuffer(haystack) ? haystack : JSON.stringify(haystack) ?? '';
    const found = this.find(text);
    if (found.length > 0) throw new Error(`real value(s) ${found.join(', ')} leaked into ${where}`);
  }

  /** Reads every regular file under `dir` raw (SQLite main file, -wal, -shm, keys …) and asserts none holds a canary. */
  assertAbsentInDir(dir: string): string[] {
    const files = listFiles(dir);
    for (const file of files) this.assertAbsent(`file ${file}`, readFileSync(file));
    return files;
  }
}

function needlesFor(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const needles = [value, bytes.toString('hex')];
  for (const encoding of ['base64', 'base64url'] as const) {
    for (let shift = 0; shift < 3; shift++) needles.push(stableBase64(bytes, shift, encoding));
  }
  return needles;
}

/**
 * The part of base64(`shift` unknown bytes + value + unknown bytes) that does not depend on the
 * unknown bytes: skip the group mixed with the leading bytes, stop before the one mixed with
 * the trailing bytes.
 */
function stableBase64(value: Buffer, shift: number, encoding: 'base64' | 'base64url'): string {
  const encoded = Buffer.concat([Buffer.alloc(shift), value]).toString(encoding);
  const start = shift === 0 ? 0 : 4;
  const end = Math.floor((shift + value.length) / 3) * 4;
  return encoded.slice(start, end);
}

function listFiles(dir: string, depth = 0): string[] {
  if (depth > 4) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) return listFiles(path, depth + 1);
    return stat.isFile() ? [path] : [];
  });
}
