import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Output } from '../../../src/cli/output.js';
import { shellQuote } from '../../../src/cli/commands/env.js';
import { parsePairs } from '../../../src/agents/secrets-command.js';

function capture(isTTY: boolean): { stream: PassThrough & { isTTY: boolean }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  stream.setEncoding('utf8').on('data', (c: string) => (text += c));
  return { stream, text: () => text };
}

test('table: header, a rule 20-80 wide, padded columns (the agent CLI layout)', () => {
  const out = capture(false);
  const err = capture(false);
  const o = new Output(out.stream, err.stream, {});
  o.table(['Key'], [['ANTHROPIC_API_KEY'], ['DATABASE_URL']]);
  o.table(
    ['Name', 'Command'],
    [
      ['a', 'node x.js'],
      ['longer-name', '-'],
    ],
  );
  assert.equal(
    out.text(),
    ['Key', '─'.repeat(20), 'ANTHROPIC_API_KEY', 'DATABASE_URL', 'Name         Command', '─'.repeat(22), 'a            node x.js', 'longer-name  -', ''].join(
      '\n',
    ),
  );
});

test('colour only on a terminal without NO_COLOR; errors go to stderr', () => {
  const tty = capture(true);
  const ttyErr = capture(true);
  new Output(tty.stream, ttyErr.stream, {}).success('done');
  assert.equal(tty.text(), '\u001b[32m✓\u001b[0m done\n');
  const plain = capture(true);
  const plainErr = capture(false);
  const o = new Output(plain.stream, plainErr.stream, { NO_COLOR: '1' });
  o.success('done');
  o.error('failed');
  assert.equal(plain.text(), '✓ done\n');
  assert.equal(plainErr.text(), '✗ failed\n');
});

test('shellQuote keeps safe words bare and single-quotes the rest', () => {
  assert.equal(shellQuote('http://sb:tok_-@127.0.0.1:8080'), 'http://sb:tok_-@127.0.0.1:8080');
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote("it's $HOME `x`"), "'it'\\''s $HOME `x`'");
  assert.equal(shellQuote('a b\nc'), "'a b\nc'");
});

test("KEY=VALUE arguments split on the first = with the agent CLI's messages", () => {
  assert.deepEqual(parsePairs(['A=1', 'B=x=y', 'C=']), { A: '1', B: 'x=y', C: '' });
  assert.throws(() => parsePairs(['NOEQUALS']), { message: "Invalid format 'NOEQUALS'. Use KEY=VALUE", exitCode: 2 });
  assert.throws(() => parsePairs(['=v']), { message: "Empty key in '=v'" });
});
