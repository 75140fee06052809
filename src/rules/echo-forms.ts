import { inspect } from 'node:util';

/** One text to find in a response and the text to put instead. */
export interface Replacement {
  /** Raw bytes to find (UTF-8 of the text). */
  readonly from: Buffer;
  readonly to: Buffer;
  /** The same bytes as Node's latin1 header strings, for header values. */
  readonly fromHeader: string;
  readonly toHeader: string;
}

/**
 * How an upstream may print a value it echoes: as is, or escaped by a JSON encoder. The
 * encoders differ (JSON.stringify, `\/` from PHP and Java, Go's HTML-safe `<>&`, Python's
 * ensure_ascii, escape-everything), so each one is listed; the stand-in gets the same treatment.
 */
const PRINTINGS: readonly ((text: string) => string)[] = [
  (t) => t,
  jsonEscape,
  (t) => jsonEscape(t).replaceAll('/', '\\/'),
  (t) => jsonEscape(t).replaceAll('<', '\\u003c').replaceAll('>', '\\u003e').replaceAll('&', '\\u0026'),
  (t) => escapeChars(jsonEscape(t), (code) => code > 0x7e, false),
  (t) => escapeChars(t, (code) => !isAlnum(code), false),
  (t) => escapeChars(t, (code) => !isAlnum(code), true),
];

/**
 * The ways a real value injected into a request can come back in its response (CONTRACT §7),
 * each paired with the stand-in written the same way: raw, base64 (padded and unpadded), each
 * also JSON-escaped. For Basic, `base64(user:real)` too. Held only for one request's scrubbing.
 */
export class EchoForms {
  readonly #replacements: Replacement[];
  #merged: Replacement[] | undefined;

  private constructor(replacements: Replacement[]) {
    this.#replacements = replacements;
  }

  /** Forms of the value alone. */
  static forValue(real: string, standIn: string): EchoForms {
    return new EchoForms(buildReplacements([[real, standIn], ...base64Pairs(real, standIn)]));
  }

  /** Forms of `base64(username:real)` as a Basic header carries it. */
  static forBasic(username: string, real: string, standIn: string): EchoForms {
    return new EchoForms(buildReplacements(base64Pairs(`${username}:${real}`, `${username}:${standIn}`)));
  }

  /** Every replacement of several forms, longest first, duplicates dropped. */
  static merge(forms: readonly EchoForms[]): Replacement[] {
    // One credential per request is the common case: its merged list is kept with its forms.
    if (forms.length === 1) return (forms[0]!.#merged ??= EchoForms.#mergeAll(forms));
    return EchoForms.#mergeAll(forms);
  }

  static #mergeAll(forms: readonly EchoForms[]): Replacement[] {
    const byText = new Map<string, Replacement>();
    for (const f of forms) {
      for (const r of f.#replacements) if (!byText.has(r.fromHeader)) byText.set(r.fromHeader, r);
    }
    return [...byText.values()].sort((a, b) => b.from.length - a.from.length);
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return '[redacted]';
  }
}

/**
 * base64 of the value alone (padded and unpadded), and the value inside a longer encoded text
 * (`base64("Key " + real)`, a whole header echoed encoded): at each of the three byte alignments
 * only the groups made of the value's own bytes are fixed, so those are swapped for the stand-in's.
 * The decoded result keeps at most two bytes of the value at each end.
 */
function base64Pairs(real: string, standIn: string): [string, string][] {
  const realBytes = Buffer.from(real, 'utf8');
  const standInBytes = Buffer.from(standIn, 'utf8');
  const r = realBytes.toString('base64');
  const s = standInBytes.toString('base64');
  const pairs: [string, string][] = [[r, s], [r.replace(/=+$/, ''), s.replace(/=+$/, '')]];
  for (const shift of [0, 1, 2]) pairs.push([alignedBase64(realBytes, shift), alignedBase64(standInBytes, shift)]);
  return pairs;
}

/** The base64 groups of `bytes` preceded by `shift` other bytes that depend on `bytes` alone. */
function alignedBase64(bytes: Buffer, shift: number): string {
  const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
  return encoded.slice(shift === 0 ? 0 : 4, Math.floor((shift + bytes.length) / 3) * 4);
}

function buildReplacements(pairs: readonly [string, string][]): Replacement[] {
  const out: Replacement[] = [];
  for (const [real, standIn] of pairs) {
    if (real.length === 0) continue;
    for (const print of PRINTINGS) {
      const from = Buffer.from(print(real), 'utf8');
      const to = Buffer.from(print(standIn), 'utf8');
      out.push({ from, to, fromHeader: from.toString('latin1'), toHeader: to.toString('latin1') });
    }
  }
  return out;
}

function jsonEscape(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** Writes every UTF-16 unit that `needsEscape` selects as `\uXXXX`, keeping existing escapes. */
function escapeChars(text: string, needsEscape: (code: number) => boolean, upper: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!needsEscape(code)) {
      out += text[i];
      continue;
    }
    const hex = code.toString(16).padStart(4, '0');
    out += `\\u${upper ? hex.toUpperCase() : hex}`;
  }
  return out;
}

function isAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}
