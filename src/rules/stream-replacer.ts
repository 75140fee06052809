import type { Replacement } from './echo-forms.js';

/**
 * Replaces byte patterns in a stream without buffering it: each chunk is searched with
 * Buffer.indexOf per pattern, and only a tail that could still grow into a pattern (a proper
 * prefix of one, so at most the longest pattern − 1 bytes) is held back for the next chunk.
 * Holding back only real prefixes keeps SSE and chunked bodies flowing event by event.
 */
export class StreamReplacer {
  readonly #patterns: readonly Replacement[];
  /** Next known occurrence of each pattern in the current buffer (-1: none left). */
  readonly #next: Int32Array;
  readonly #prefixes: PrefixIndex;
  #tail: Buffer | undefined;

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
    const next = this.#next;
    for (let p = 0; p < patterns.length; p++) next[p] = buf.indexOf(patterns[p]!.from);
    let pos = 0;
    for (;;) {
      let best = -1;
      let bestAt = buf.length;
      for (let p = 0; p < patterns.length; p++) {
        let at = next[p]!;
        if (at >= 0 && at < pos) next[p] = at = buf.indexOf(patterns[p]!.from, pos);
        if (at >= 0 && at < bestAt) {
          best = p;
          bestAt = at;
        }
      }
      if (best < 0) break;
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
      for (const pattern of candidates) {
        if (pattern.length > rest && isPrefixAt(buf, i, pattern, rest)) return i;
      }
    }
    return end;
  }
}

/** The patterns by first byte, built once per pattern list (a binding's list is reused by every request). */
interface PrefixIndex {
  readonly longest: number;
  readonly byFirstByte: ReadonlyArray<readonly Buffer[] | undefined>;
}

const prefixIndexes = new WeakMap<readonly Replacement[], PrefixIndex>();

function prefixIndex(patterns: readonly Replacement[]): PrefixIndex {
  let index = prefixIndexes.get(patterns);
  if (index === undefined) {
    const byFirstByte: Array<Buffer[] | undefined> = new Array(256);
    let longest = 0;
    for (const { from } of patterns) {
      (byFirstByte[from[0]!] ??= []).push(from);
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
