import { timingSafeEqual } from 'node:crypto';
import type { AuthRule } from './source.js';
import { compileTemplate } from './template.js';
import { isScannable, isTokenChar } from './token-scan.js';
import { latin1, type RequestHeaderView } from './request-headers.js';

/** Where a stand-in was found: the shape it arrived in, the headers to strip and, for Basic, the client's username. */
export interface ShapeMatch {
  /** The secret's shape that matched (one of the shapes the matcher was compiled from). */
  readonly shape: AuthRule;
  /** Lowercased names of the headers that carried the stand-in. */
  readonly headers: readonly string[];
  /** The username of a Basic header the stand-in came in; kept when the rule names none. */
  readonly clientUsername: string | undefined;
}

/** Finds one binding's stand-in in a request, in any of its secret's auth shapes. */
export interface StandInMatcher {
  match(view: RequestHeaderView): ShapeMatch | undefined;
  /**
   * True when, in every shape, the stand-in stands as a whole token run (no token character
   * glued to either side): then the request scan finds it whenever match() could, and the
   * matcher need only run for stand-ins the scan found.
   */
  readonly scanFindsEveryMatch: boolean;
  /** `bearer, basic` — the shapes looked at. */
  explain(): string;
}

type ShapeCheck = (view: RequestHeaderView) => ShapeMatch | undefined;

/** Constant-time equality; unequal lengths are simply unequal (a stand-in's length is public). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Compiles, once per binding, a check per distinct shape (per_host rules often repeat one). The
 * expected header bytes are built here, so a request costs one comparison per present header.
 */
export function compileStandInMatcher(shapes: readonly AuthRule[], standIn: string): StandInMatcher {
  const seen = new Set<string>();
  const checks: ShapeCheck[] = [];
  const names: string[] = [];
  let scanFindsEveryMatch = isScannable(standIn);
  for (const shape of shapes) {
    const key = JSON.stringify(shape);
    if (seen.has(key)) continue;
    seen.add(key);
    checks.push(compileShapeCheck(shape, standIn));
    names.push(shape.type);
    scanFindsEveryMatch &&= standsAlone(shape);
  }
  const text = names.join(', ');
  return {
    scanFindsEveryMatch,
    match: (view) => {
      for (const check of checks) {
        const found = check(view);
        if (found) return found;
      }
      return undefined;
    },
    explain: () => text,
  };
}

function compileShapeCheck(shape: AuthRule, standIn: string): ShapeCheck {
  switch (shape.type) {
    case 'bearer': {
      const expected = utf8(standIn);
      const found: ShapeMatch = { shape, headers: ['authorization'], clientUsername: undefined };
      return (view) => {
        const token = view.bearer();
        return token !== undefined && safeEqual(token, expected) ? found : undefined;
      };
    }
    case 'basic': {
      const expected = utf8(standIn);
      return (view) => {
        const basic = view.basic();
        return basic !== undefined && safeEqual(basic.password, expected)
          ? { shape, headers: ['authorization'], clientUsername: basic.username }
          : undefined;
      };
    }
    case 'api-key': {
      const header = shape.header.toLowerCase();
      return headerEquals(shape, header, utf8((shape.prefix ?? '') + standIn));
    }
    case 'custom': {
      const checks = Object.entries(shape.headers).map(([name, template]) => {
        const header = name.toLowerCase();
        return { header, check: headerEquals(shape, header, utf8(compileTemplate(template).render(standIn))) };
      });
      return (view) => {
        let headers: string[] | undefined;
        for (const { header, check } of checks) {
          if (check(view)) (headers ??= []).push(header);
        }
        return headers ? { shape, headers, clientUsername: undefined } : undefined;
      };
    }
  }
}

/** True when the shape puts no token character right before or after the stand-in. */
function standsAlone(shape: AuthRule): boolean {
  switch (shape.type) {
    case 'bearer':
    case 'basic':
      return true;
    case 'api-key':
      return !endsWithTokenChar(shape.prefix ?? '');
    case 'custom':
      return Object.values(shape.headers).every((template) => {
        const { parts } = compileTemplate(template);
        return parts.every((part, i) => (i === 0 || !startsWithTokenChar(part, i === parts.length - 1)) && (i === parts.length - 1 || !endsWithTokenChar(part, i === 0)));
      });
  }
}

/** An empty part between two placeholders glues them together; at either end it is harmless. */
function startsWithTokenChar(part: string, isLast: boolean): boolean {
  return part === '' ? !isLast : isTokenChar(part.charCodeAt(0));
}

function endsWithTokenChar(part: string, isFirst = true): boolean {
  return part === '' ? !isFirst : isTokenChar(part.charCodeAt(part.length - 1));
}

/**
 * A check that one header (any of its values) equals `expected` byte for byte. A latin1 string's
 * length is its byte count, so values of another length are skipped before any Buffer is made
 * (the length of a stand-in shape is public; only the bytes are compared in constant time).
 */
function headerEquals(shape: AuthRule, header: string, expected: Buffer): ShapeCheck {
  const hit: ShapeMatch = { shape, headers: [header], clientUsername: undefined };
  const size = expected.length;
  const equal = (value: string): boolean => value.length === size && safeEqual(latin1(value), expected);
  return (view) => {
    const value = view.headers[header];
    if (typeof value === 'string') return equal(value) ? hit : undefined;
    return value !== undefined && value.some(equal) ? hit : undefined;
  };
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
