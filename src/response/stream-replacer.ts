import type { Replacement } from './echo-forms.js';

/**
 * Chunks up to this size are searched in one JS pass that looks only at bytes some pattern starts
 * with; larger ones with a native indexOf per pattern. Below it the native calls cost more than
 * the bytes they look at (a 94-byte JSON answer: ≈ 1.6 → ≈ 0.5 µs).
 */
const SCAN_IN_JS_MAX = 1024;

/**
 * Replaces byte patterns in a stream without buffering it: each chunk is searched (in JS when
 * small, else with Buffer.indexOf per pattern), and only a tail that could still grow into a pattern (a proper
 * prefix of one, so at most the longest pattern − 1 bytes) is held back for the next chunk.
 * Holding back only real prefixes keeps SSE and chunked bodies flowing event by event.
 */
export class StreamReplacer {
  readonly #patterns: readonly Replacement[];
  /** Next known occurrence of each pattern in the current buffer (-1: none left). */
  readonly #next: Int32Array;
  readonly #prefixes: PrefixIndex;
  #tail: Buffer | undefined;
  /** The pattern the last search found. */
  #best = 0;

  /** `patterns` longest first, so the longest wins when two start at one offset. */
  constructor(patterns: readonly Replacement[]) {
    this.#patterns = patterns;
    this.#next = new Int32Array(patterns.length);
    this.#prefixes = prefixIndex(patterns);
  }

  /** The bytes that are safe to emit after this chunk, in order. */
  write(chunk: Buffer): Buffer[] {
    const buf = this.#tail ? Buffer.concat([this.#tail, chunk]) : chunk;
    this.#tail = undefined;
    return this.#process(buf, false);
  }

  /** Everything still held back, at the end of the stream. */
  end(): Buffer[] {
    const tail = this.#tail;
    this.#tail = undefined;
    return tail ? this.#process(tail, true) : [];
  }

  #process(buf: Buffer, final: boolean): Buffer[] {
    const out: Buffer[] = [];
    const patterns = this.#patterns;
    const inJs = buf.length <= SCAN_IN_JS_MAX;
    if (!inJs) for (let p = 0; p < patterns.length; p++) this.#next[p] = buf.indexOf(patterns[p]!.from);
    let pos = 0;
    for (;;) {
      const bestAt = inJs ? this.#scanFrom(buf, pos) : this.#searchFrom(buf, pos);
      if (bestAt < 0) break;
      const best = this.#best;
      // A longer pattern may start here too and only be cut off by the chunk's end (base64
      // with and without its padding): wait for more bytes so chunking never changes the result.
      if (!final && this.#longerMayFollow(buf, bestAt, best)) {
        if (bestAt > pos) out.push(buf.subarray(pos, bestAt));
        this.#tail = Buffer.from(buf.subarray(bestAt));
        return out;
      }
      const found = patterns[best]!;
      if (bestAt > pos) out.push(buf.subarray(pos, bestAt));
      out.push(found.to);
      pos = bestAt + found.from.length;
    }
    const hold = final ? buf.length : this.#partialStart(buf, pos);
    if (hold > pos) out.push(buf.subarray(pos, hold));
    // Copy the tail so a large chunk is not kept alive by a few held bytes.
    if (hold < buf.length) this.#tail = Buffer.from(buf.subarray(hold));
    return out;
  }

  /** The first match at or after `pos` by native indexOf (earliest offset, then longest); -1 when none. */
  #searchFrom(buf: Buffer, pos: number): number {
    const patterns = this.#patterns;
    const next = this.#next;
    let bestAt = -1;
    for (let p = 0; p < patterns.length; p++) {
      let at = next[p]!;
      if (at >= 0 && at < pos) next[p] = at = buf.indexOf(patterns[p]!.from, pos);
      if (at >= 0 && (bestAt < 0 || at < bestAt)) {
        this.#best = p;
        bestAt = at;
      }
    }
    return bestAt;
  }

  /** The same as #searchFrom in one JS pass, trying only the patterns that start with each byte. */
  #scanFrom(buf: Buffer, pos: number): number {
    const { byFirstByte } = this.#prefixes;
    const patterns = this.#patterns;
    for (let i = pos; i < buf.length; i++) {
      const candidates = byFirstByte[buf[i]!];
      if (candidates === undefined) continue;
      const rest = buf.length - i;
      for (const p of candidates) {
        const { from } = patterns[p]!;
        if (from.length <= rest && isPrefixAt(buf, i, from, from.length)) {
          this.#best = p;
          return i;
        }
      }
    }
    return -1;
  }

  /** True when a pattern longer than `patterns[best]` has the rest of `buf` from `at` as a proper prefix. */
  #longerMayFollow(buf: Buffer, at: number, best: number): boolean {
    const rest = buf.length - at;
    for (let p = 0; p < best; p++) {
      const { from: pattern } = this.#patterns[p]!;
      if (pattern.length > rest && buf.compare(pattern, 0, rest, at) === 0) return true;
    }
    return false;
  }

  /**
   * The first offset ≥ `from` where the rest of `buf` is a proper prefix of some pattern. Runs on
   * every chunk, so it compares in JS, only at bytes some pattern starts with: a native
   * indexOf/compare per pattern and candidate cost more than the bytes they look at.
   */
  #partialStart(buf: Buffer, from: number): number {
    const end = buf.length;
    const { longest, byFirstByte } = this.#prefixes;
    for (let i = Math.max(from, end - longest + 1); i < end; i++) {
      const candidates = byFirstByte[buf[i]!];
      if (candidates === undefined) continue;
      const rest = end - i;
      for (const p of candidates) {
        const { from } = this.#patterns[p]!;
        if (from.length > rest && isPrefixAt(buf, i, from, rest)) return i;
      }
    }
    return end;
  }
}

/**
 * Pattern indexes by first byte, longest first, built once per pattern list (a binding's list is
 * reused by every request).
 */
interface PrefixIndex {
  readonly longest: number;
  readonly byFirstByte: ReadonlyArray<readonly number[] | undefined>;
}

const prefixIndexes = new WeakMap<readonly Replacement[], PrefixIndex>();

function prefixIndex(patterns: readonly Replacement[]): PrefixIndex {
  let index = prefixIndexes.get(patterns);
  if (index === undefined) {
    const byFirstByte: Array<number[] | undefined> = new Array(256);
    let longest = 0;
    for (const [p, { from }] of patterns.entries()) {
      (byFirstByte[from[0]!] ??= []).push(p);
      longest = Math.max(longest, from.length);
    }
    index = { longest, byFirstByte };
    prefixIndexes.set(patterns, index);
  }
  return index;
}

/** Whether buf[at, at + length) equals pattern[0, length); the first byte is known to match. */
function isPrefixAt(buf: Buffer, at: number, pattern: Buffer, length: number): boolean {
  for (let k = 1; k < length; k++) if (buf[at + k] !== pattern[k]) return false;
  return true;
}
