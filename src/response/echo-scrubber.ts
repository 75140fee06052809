import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import type { EchoScrubber } from '../proxy/policy.js';
import { EchoForms, type Replacement } from './echo-forms.js';
import { StreamReplacer } from './stream-replacer.js';

const ZLIB_OPTIONS = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const BROTLI_OPTIONS = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };
/** zstd is in zlib from Node 22.15 / 23.8 on; Node 20 has none, so it is neither asked for nor decoded there. */
const createZstdDecompress = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;
/** More codings than this on one body are refused rather than decoded (nobody stacks three). */
const MAX_CODINGS = 3;

/**
 * Decoders by content-coding name (RFC 9110 §8.4.1). They are lenient about a truncated end,
 * like browsers and curl.
 */
const DECODERS: ReadonlyMap<string, () => Transform> = new Map<string, () => Transform>([
  ['gzip', () => zlib.createGunzip(ZLIB_OPTIONS)],
  ['x-gzip', () => zlib.createGunzip(ZLIB_OPTIONS)],
  ['deflate', () => new DeflateDecoder()],
  ['br', () => zlib.createBrotliDecompress(BROTLI_OPTIONS)],
  ...(createZstdDecompress ? [['zstd', () => createZstdDecompress()] as const] : []),
]);

/** What a request that had a credential injected asks for: exactly the codings decoded here. */
export const DECODABLE_ENCODINGS = ['gzip', 'deflate', 'br', ...(createZstdDecompress ? ['zstd'] : [])].join(', ');

/**
 * Puts the stand-in back wherever a response echoes a real value injected into its request.
 * Bodies are decoded when every coding they list is known (gzip, deflate with or without its
 * zlib header, br, zstd where Node has it, stacked ones in reverse order; `identity` tokens
 * ignored), then reported as `identity`, so the proxy drops Content-Encoding and Content-Length.
 * A body that cannot be decoded cannot be searched: bodyTransform says so and the proxy refuses
 * it. Replacements change the length, so Content-Length must go whenever a scrubber runs.
 */
export class ResponseEchoScrubber implements EchoScrubber {
  readonly acceptEncoding = DECODABLE_ENCODINGS;
  readonly #forms: readonly EchoForms[];
  #merged: readonly Replacement[] | undefined;

  /** The forms of every value injected into the request. */
  constructor(forms: readonly EchoForms[]) {
    this.#forms = forms;
  }

  /** Merged when the response arrives, not while the request is on its way. */
  get #patterns(): readonly Replacement[] {
    return (this.#merged ??= EchoForms.merge(this.#forms));
  }

  scrubHeaders(headers: Record<string, string | string[] | undefined>): void {
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (typeof value === 'string') headers[name] = this.#scrubText(value);
      else if (Array.isArray(value)) headers[name] = value.map((v) => this.#scrubText(v));
    }
  }

  bodyTransform(contentEncoding: string | undefined): { transform: Transform; contentEncoding: string | undefined } | undefined {
    const codings = contentCodings(contentEncoding);
    if (codings === undefined) return undefined;
    const replacer = new StreamReplacer(this.#patterns);
    if (codings.length === 0) return { transform: new ReplaceTransform(replacer), contentEncoding };
    // The codings were applied in the order listed, so they come off in the reverse one.
    const decoders = codings.reverse().map((coding) => DECODERS.get(coding)!());
    return { transform: new DecodeReplaceTransform(decoders, replacer), contentEncoding: 'identity' };
  }

  bodyReplacer(contentEncoding: string | undefined): StreamReplacer | undefined {
    return contentCodings(contentEncoding)?.length === 0 ? new StreamReplacer(this.#patterns) : undefined;
  }

  scrubMessage(payload: Buffer): Buffer {
    const replacer = new StreamReplacer(this.#patterns);
    const parts = [...replacer.write(payload), ...replacer.end()];
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  #scrubText(value: string): string {
    const patterns = this.#patterns;
    // Longest first: most header values (date, content-type, ids) are shorter than any echo form.
    if (patterns.length === 0 || value.length < patterns[patterns.length - 1]!.fromHeader.length) return value;
    let out = value;
    for (const { fromHeader, toHeader } of patterns) {
      if (out.includes(fromHeader)) out = out.split(fromHeader).join(toHeader);
    }
    return out;
  }
}

/**
 * A Content-Encoding's codings in the order they were applied, `identity` left out; undefined
 * when one is not decodable here or there are more than MAX_CODINGS.
 */
function contentCodings(contentEncoding: string | undefined): string[] | undefined {
  if (contentEncoding === undefined) return [];
  const codings: string[] = [];
  for (const token of contentEncoding.toLowerCase().split(',')) {
    const coding = token.trim();
    if (coding === '' || coding === 'identity') continue;
    if (!DECODERS.has(coding) || codings.length === MAX_CODINGS) return undefined;
    codings.push(coding);
  }
  return codings;
}

/**
 * `deflate` means zlib-wrapped deflate (RFC 9110 §8.4.1.2), but some servers send raw deflate,
 * which browsers accept too. The first two bytes tell: a zlib header's CMF names method 8 and
 * CMF·256 + FLG is a multiple of 31. Picks inflate or inflateRaw on them and streams the rest.
 */
class DeflateDecoder extends Transform {
  #inner: Transform | undefined;
  #head: Buffer | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#inner !== undefined) {
      this.#inner.write(chunk, () => callback());
      return;
    }
    const head = this.#head === undefined ? chunk : Buffer.concat([this.#head, chunk]);
    if (head.length < 2) {
      this.#head = head;
      callback();
      return;
    }
    this.#head = undefined;
    this.#start((head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0).write(head, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    const inner = this.#inner ?? this.#start(false);
    if (this.#head !== undefined) inner.write(this.#head);
    inner.once('end', () => callback());
    inner.end();
  }

  override _read(size: number): void {
    this.#inner?.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#inner?.destroy();
    callback(error);
  }

  #start(zlibHeader: boolean): Transform {
    const inner = zlibHeader ? zlib.createInflate(ZLIB_OPTIONS) : zlib.createInflateRaw(ZLIB_OPTIONS);
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('error', (err) => this.destroy(err));
    this.#inner = inner;
    return inner;
  }
}

class ReplaceTransform extends Transform {
  readonly #replacer: StreamReplacer;

  constructor(replacer: StreamReplacer) {
    super();
    this.#replacer = replacer;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const part of this.#replacer.write(chunk)) this.push(part);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    for (const part of this.#replacer.end()) this.push(part);
    callback();
  }
}

/**
 * Decoders → replacer in one Transform, the decoders piped in order. Backpressure holds: the last
 * decoder pauses when this stream's reader is full and resumes when it reads again; a paused
 * decoder defers its write callbacks (through the pipes), which defers ours.
 */
class DecodeReplaceTransform extends Transform {
  readonly #first: Transform;
  readonly #last: Transform;
  readonly #decoders: readonly Transform[];
  #flushed: TransformCallback | undefined;

  constructor(decoders: readonly Transform[], replacer: StreamReplacer) {
    super();
    this.#decoders = decoders;
    this.#first = decoders[0]!;
    this.#last = decoders[decoders.length - 1]!;
    for (let i = 1; i < decoders.length; i++) decoders[i - 1]!.pipe(decoders[i]!);
    for (const decoder of decoders) decoder.on('error', (err) => this.destroy(err));
    this.#last.on('data', (chunk: Buffer) => {
      let more = true;
      for (const part of replacer.write(chunk)) more = this.push(part);
      if (!more) this.#last.pause();
    });
    this.#last.on('end', () => {
      for (const part of replacer.end()) this.push(part);
      this.#flushed?.();
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#first.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    this.#flushed = callback;
    this.#first.end();
  }

  override _read(size: number): void {
    this.#last.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    for (const decoder of this.#decoders) decoder.destroy();
    callback(error);
  }
}
