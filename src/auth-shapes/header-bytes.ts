import { timingSafeEqual } from 'node:crypto';
import type { Injection, ShapeCheck } from './auth-shape.js';

/** Constant-time equality; unequal lengths are simply unequal (a stand-in's length is public). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** The bytes of a Node header value as they came off the wire (Node holds them as latin1 strings). */
export function latin1(value: string): Buffer {
  return Buffer.from(value, 'latin1');
}

/**
 * Node holds header values as latin1 strings; a non-ASCII value goes out as its UTF-8 bytes,
 * the same bytes the stand-in matcher compares against.
 */
export function toWire(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) return Buffer.from(value, 'utf8').toString('latin1');
  }
  return value;
}

/** An injection of one header. */
export function singleHeader(name: string, value: string): Injection {
  return { headers: [{ name, value: toWire(value) }], basicUsername: undefined };
}

/**
 * A check that one header (any of its values) equals `expected` byte for byte. A latin1 string's
 * length is its byte count, so values of another length are skipped before any Buffer is made
 * (the length of a stand-in shape is public; only the bytes are compared in constant time).
 */
export function headerEquals<R>(shape: R, header: string, expected: Buffer): ShapeCheck<R> {
  const hit = { shape, headers: [header], clientUsername: undefined };
  const size = expected.length;
  const equal = (value: string): boolean => value.length === size && safeEqual(latin1(value), expected);
  return (view) => {
    const value = view.headers[header];
    if (typeof value === 'string') return equal(value) ? hit : undefined;
    return value !== undefined && value.some(equal) ? hit : undefined;
  };
}
