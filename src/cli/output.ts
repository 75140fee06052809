const RULE = '─';
const MIN_RULE = 20;
/** A long cell (a command line) may overflow; the rule stops at a terminal's usual width. */
const MAX_RULE = 80;

type Stream = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Everything the CLI prints goes through here: results to stdout, failures to stderr, colour
 * only when stdout is a terminal and NO_COLOR is unset.
 */
export class Output {
  readonly #stdout: Stream;
  readonly #stderr: Stream;
  readonly #color: boolean;

  constructor(stdout: Stream = process.stdout, stderr: Stream = process.stderr, env: NodeJS.ProcessEnv = process.env) {
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.#color = Boolean(stdout.isTTY) && !env.NO_COLOR;
  }

  line(text = ''): void {
    this.#stdout.write(`${text}\n`);
  }

  /** `✓ text` in green. */
  success(text: string): void {
    this.line(`${this.#paint('32', '✓')} ${text}`);
  }

  /** `✗ text` in red, on stderr. */
  error(text: string): void {
    this.#stderr.write(`${this.#paint('31', '✗')} ${text}\n`);
  }

  /** A plain line on stderr (hints that follow an error). */
  note(text = ''): void {
    this.#stderr.write(`${text}\n`);
  }

  /** Dimmed text for hints, e.g. a command to run next. */
  dim(text: string): string {
    return this.#paint('2', text);
  }

  bold(text: string): string {
    return this.#paint('1', text);
  }

  json(value: unknown): void {
    this.line(JSON.stringify(value, null, 2));
  }

  /** Left-aligned columns under a header and a `────` rule (20 to 80 wide), as in docs/contract.md#agent-cli. */
  table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
    const widths = headers.map((h, col) => Math.max(h.length, ...rows.map((r) => (r[col] ?? '').length)));
    const render = (cells: readonly string[]) => cells.map((cell, col) => (col === cells.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ');
    const ruleWidth = Math.min(MAX_RULE, Math.max(MIN_RULE, widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1)));
    this.line(this.bold(render(headers)));
    this.line(RULE.repeat(ruleWidth));
    for (const row of rows) this.line(render(row));
  }

  #paint(code: string, text: string): string {
    return this.#color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}
