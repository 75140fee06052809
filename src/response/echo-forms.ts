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
const JSON_PRINTINGS: readonly ((text: string) => string)[] = [
  (t) => t,
  jsonEscape,
  (t) => jsonEscape(t).replaceAll('/', '\\/'),
  (t) => jsonEscape(t).replaceAll('<', '\\u003c').replaceAll('>', '\\u003e').replaceAll('&', '\\u0026'),
  (t) => escapeChars(jsonEscape(t), (code) => code > 0x7e, false),
  (t) => escapeChars(t, (code) => !isAlnum(code), false),
  (t) => escapeChars(t, (code) => !isAlnum(code), true),
];

/**
 * What URL encoders leave as it is besides ASCII letters and digits; everything else becomes
 * `%XX` of its UTF-8 bytes. RFC 3986's unreserved set (Go's QueryEscape, PHP's rawurlencode,
 * Python's quote_plus), encodeURIComponent's, form encoding's (URLSearchParams, Java's
 * URLEncoder), Python's quote (keeps `/`) and PHP's urlencode. A value with `+`, `/` or `=` (cloud
 * keys, base64, passwords) is written differently by each; a Location header or a query string
 * echoes it so.
 */
const URL_KEPT: readonly string[] = ['-._~', "-_.!~*'()", '*-._', '-._~/', '-._'];

/** Percent-encodings: each kept set with space as `%20` and as `+` (form encoding), upper-case hex; RFC 3986's in lower case too. */
const URL_PRINTINGS: readonly ((text: string) => string)[] = [
  ...URL_KEPT.flatMap((kept) => [false, true].map((plus) => (t: string) => percentEncode(t, kept, plus, true))),
  (t) => percentEncode(t, URL_KEPT[0]!, false, false),
];

const PRINTINGS: readonly ((text: string) => string)[] = [...JSON_PRINTINGS, ...URL_PRINTINGS];

/**
 * The ways a real value injected into a request can come back in its response (docs/contract.md#never-leak),
 * each paired with the stand-in written the same way: raw, base64 (padded and unpadded) and, for
 * a non-ASCII value, its latin1 and Windows-1252 misreadings; each also JSON-escaped and
 * percent-encoded. For Basic, `base64(user:real)` too. Held only for one request's scrubbing.
 */
export class EchoForms {
  readonly #replacements: Replacement[];
  #merged: Replacement[] | undefined;

  private constructor(replacements: Replacement[]) {
    this.#replacements = replacements;
  }

  /** Forms of the value alone. */
  static forValue(real: string, standIn: string): EchoForms {
    return new EchoForms(buildReplacements([[real, standIn], ...misreadPairs(real, standIn), ...base64Pairs(real, standIn)]));
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
 * Windows-1252's characters for bytes 0x80-0x9f (the rest is latin1); the five it leaves undefined
 * read as the byte, as WHATWG's decoder does. Node 20's TextDecoder('windows-1252') decodes as
 * latin1, so the table is written out.
 */
const CP1252_80_9F =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

function readAsCp1252(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) out += byte >= 0x80 && byte <= 0x9f ? CP1252_80_9F[byte - 0x80] : String.fromCharCode(byte);
  return out;
}

/**
 * A non-ASCII value goes out as its UTF-8 bytes (header values are bytes). An upstream that reads
 * them as latin1 or Windows-1252 and prints what it read as UTF-8 echoes mojibake (`é` → `Ã©`),
 * which the sandbox can turn back into the value: those readings are forms too. ASCII values
 * read the same in every one, so they add nothing.
 */
function misreadPairs(real: string, standIn: string): [string, string][] {
  if (!/[\u0080-\uffff]/.test(real)) return [];
  const bytes = Buffer.from(real, 'utf8');
  return [
    [bytes.toString('latin1'), standIn],
    [readAsCp1252(bytes), standIn],
  ];
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
  const pairs: [string, string][] = [
    [r, s],
    [r.replace(/=+$/, ''), s.replace(/=+$/, '')],
  ];
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

/** `%XX` (upper- or lower-case hex) for each UTF-8 byte that is neither alphanumeric nor in `kept`; space as `+` when `plus`. */
function percentEncode(text: string, kept: string, plus: boolean, upper: boolean): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (isAlnum(byte) || (byte < 0x80 && kept.includes(String.fromCharCode(byte)))) out += String.fromCharCode(byte);
    else if (byte === 0x20 && plus) out += '+';
    else {
      const hex = byte.toString(16).padStart(2, '0');
      out += `%${upper ? hex.toUpperCase() : hex}`;
    }
  }
  return out;
}

function isAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}
