import { shapeOf, type AuthRule, type ShapeMatch, type ShapeRequestView } from '../auth-shapes/index.js';
import { isScannable, isTokenChar } from './token-scan.js';

/** Finds one binding's stand-in in a request, in any of its secret's auth shapes. */
export interface StandInMatcher {
  match(view: ShapeRequestView): ShapeMatch | undefined;
  /**
   * True when, in every shape, the stand-in stands as a whole token run (no token character
   * glued to either side): then the request scan finds it whenever match() could, and the
   * matcher need only run for stand-ins the scan found.
   */
  readonly scanFindsEveryMatch: boolean;
  /** `bearer, basic` — the shapes looked at. */
  explain(): string;
}

type ShapeCheck = (view: ShapeRequestView) => ShapeMatch | undefined;

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
    const module = shapeOf(shape);
    checks.push(module.compileMatch(shape, standIn));
    names.push(shape.type);
    scanFindsEveryMatch &&= module.surroundings(shape).every(standsAlone);
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

/** True when no token character stands right before or after any placeholder of the value. */
function standsAlone(parts: readonly string[]): boolean {
  return parts.every(
    (part, i) => (i === 0 || !startsWithTokenChar(part, i === parts.length - 1)) && (i === parts.length - 1 || !endsWithTokenChar(part, i === 0)),
  );
}

/** An empty part between two placeholders glues them together; at either end it is harmless. */
function startsWithTokenChar(part: string, isLast: boolean): boolean {
  return part === '' ? !isLast : isTokenChar(part.charCodeAt(0));
}

function endsWithTokenChar(part: string, isFirst: boolean): boolean {
  return part === '' ? !isFirst : isTokenChar(part.charCodeAt(part.length - 1));
}
