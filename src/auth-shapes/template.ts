/** `{{ value }}` in a custom header template; spaces inside the braces are optional. */
const PLACEHOLDER = /\{\{\s*value\s*\}\}/;

/** A custom-header template split once around its placeholders, rendered by joining. */
export interface HeaderTemplate {
  readonly source: string;
  /** The literal text around the placeholders: n placeholders, n + 1 parts. */
  readonly parts: readonly string[];
  render(value: string): string;
}

export function compileTemplate(source: string): HeaderTemplate {
  const parts = source.split(PLACEHOLDER);
  return { source, parts, render: (value) => parts.join(value) };
}
