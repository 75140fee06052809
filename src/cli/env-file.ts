/** A line of an env file that cannot be read; the message names the line, never a value. */
export class EnvFileError extends Error {
  readonly code = 'env_file_invalid';

  constructor(source: string, line: number, problem: string) {
    super(`${source}:${line}: ${problem}`);
    this.name = 'EnvFileError';
  }
}

const DOUBLE_QUOTE_ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/**
 * Parses a `.env` file with dotenv's rules: blank lines and `#` comments are skipped, an optional
 * `export ` prefix is dropped, each entry splits on its first `=`, values may be single-quoted
 * (literal), double-quoted (`\n`, `\t`, `\"`, `\\` escapes; may span lines) or bare (trimmed, a
 * ` #` starts a comment). A later entry for the same key wins.
 */
export function parseEnvFile(text: string, source = '.env'): Record<string, string> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const entries: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;

    const body = line.startsWith('export ') ? line.slice('export '.length).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq === -1) throw new EnvFileError(source, lineNumber, 'expected KEY=VALUE');
    const key = body.slice(0, eq).trim();
    if (key === '') throw new EnvFileError(source, lineNumber, 'empty key before "="');

    const raw = body.slice(eq + 1).trimStart();
    const quote = raw[0];
    if (quote === '"' || quote === "'") {
      // A quoted value may continue on the following lines until its closing quote.
      let rest = raw.slice(1);
      let close = findClosingQuote(rest, quote);
      while (close === -1 && i + 1 < lines.length) {
        i++;
        rest += `\n${lines[i]!}`;
        close = findClosingQuote(rest, quote);
      }
      if (close === -1) throw new EnvFileError(source, lineNumber, `unterminated ${quote === '"' ? 'double' : 'single'}-quoted value for ${key}`);
      const inner = rest.slice(0, close);
      entries[key] = quote === '"' ? unescapeDoubleQuoted(inner) : inner;
    } else {
      entries[key] = stripInlineComment(raw).trimEnd();
    }
  }
  return entries;
}

function findClosingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === quote) return i;
  }
  return -1;
}

function unescapeDoubleQuoted(text: string): string {
  return text.replace(/\\(.)/g, (match, ch: string) => DOUBLE_QUOTE_ESCAPES[ch] ?? match);
}

/** `VALUE # note` → `VALUE`; a `#` right after other text (`pa#ss`) is part of the value. */
function stripInlineComment(value: string): string {
  const at = value.search(/(^|\s)#/);
  return at === -1 ? value : value.slice(0, at);
}
