import { createInterface } from 'node:readline';

/** The terminal a prompt talks to; tests pass their own streams. */
export interface PromptIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream;
}

const DEFAULT_IO: PromptIo = { input: process.stdin, output: process.stdout };

/** Thrown when the person presses Ctrl-C at a hidden prompt. */
export class PromptAborted extends Error {
  readonly code = 'prompt_aborted';

  constructor() {
    super('Cancelled');
    this.name = 'PromptAborted';
  }
}

/**
 * Writes `question` and reads one line; resolves '' when the input ends first (a closed or
 * empty pipe), so a script without an answer gets the safe default.
 */
export function readLine(question: string, io: PromptIo = DEFAULT_IO): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.input, output: io.output, terminal: false });
    let answered = false;
    io.output.write(question);
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}

/** `question (y/N) `: true only for y or yes (any case). */
export async function confirm(question: string, io: PromptIo = DEFAULT_IO): Promise<boolean> {
  const answer = (await readLine(`${question} (y/N) `, io)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}

/**
 * Reads a line without echoing it (raw mode), for secret values typed at a terminal.
 * Backspace edits, Enter or Ctrl-D finishes, Ctrl-C rejects with PromptAborted.
 */
export function readHidden(question: string, io: PromptIo = DEFAULT_IO): Promise<string> {
  const { input, output } = io;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onEnd = () => finish();
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new PromptAborted());
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    output.write(question);
    input.setRawMode?.(true);
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  });
}
