import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { constants as zlib, createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { EchoScrubber } from '../proxy/policy.js';
import { EchoForms, type Replacement } from './echo-forms.js';
import { StreamReplacer } from './stream-replacer.js';

/**
 * Puts the stand-in back wherever a response echoes a real value injected into its request.
 * Bodies are decoded when gzip, deflate or br (then reported as `identity`, so the proxy drops
 * Content-Encoding and Content-Length); any other encoding passes through unscrubbed, because it
 * cannot be searched. Replacements change the length, so Content-Length must go whenever a
 * scrubber runs.
 */
export class ResponseEchoScrubber implements EchoScrubber {
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

  bodyTransform(contentEncoding: string | undefined): { transform: Transform; contentEncoding: string | undefined } {
    if (isIdentity(contentEncoding)) {
      return { transform: new ReplaceTransform(new StreamReplacer(this.#patterns)), contentEncoding };
    }
    const encoding = contentEncoding!.trim().toLowerCase();
    const decoder = createDecoder(encoding);
    if (decoder === undefined) return { transform: new PassThrough(), contentEncoding };
    return { transform: new DecodeReplaceTransform(decoder, new StreamReplacer(this.#patterns)), contentEncoding: 'identity' };
  }

  bodyReplacer(contentEncoding: string | undefined): StreamReplacer | undefined {
    return isIdentity(contentEncoding) ? new StreamReplacer(this.#patterns) : undefined;
  }

  maskTransform(): Transform {
    return new ReplaceTransform(new StreamReplacer(this.#patterns.map(masked)));
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

/** The same pattern replaced by as many `*` bytes. */
function masked(pattern: Replacement): Replacement {
  const to = Buffer.alloc(pattern.from.length, 0x2a);
  return { from: pattern.from, to, fromHeader: pattern.fromHeader, toHeader: to.toString('latin1') };
}

function isIdentity(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return true;
  const encoding = contentEncoding.trim().toLowerCase();
  return encoding === '' || encoding === 'identity';
}

/** Decoders are lenient about a truncated end, like browsers and curl. */
function createDecoder(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH });
    case 'deflate':
      return createInflate({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH });
    case 'br':
      return createBrotliDecompress({ flush: zlib.BROTLI_OPERATION_FLUSH, finishFlush: zlib.BROTLI_OPERATION_FLUSH });
    default:
      return undefined;
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
 * Decoder → replacer in one Transform. Backpressure holds: the decoder pauses when this stream's
 * reader is full and resumes when it reads again; a paused decoder defers its write callbacks,
 * which defers ours.
 */
class DecodeReplaceTransform extends Transform {
  readonly #decoder: Transform;
  #flushed: TransformCallback | undefined;

  constructor(decoder: Transform, replacer: StreamReplacer) {
    super();
    this.#decoder = decoder;
    decoder.on('data', (chunk: Buffer) => {
      let more = true;
      for (const part of replacer.write(chunk)) more = this.push(part);
      if (!more) decoder.pause();
    });
    decoder.on('end', () => {
      for (const part of replacer.end()) this.push(part);
      this.#flushed?.();
    });
    decoder.on('error', (err) => this.destroy(err));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#decoder.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    this.#flushed = callback;
    this.#decoder.end();
  }

  override _read(size: number): void {
    this.#decoder.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#decoder.destroy();
    callback(error);
  }
}
