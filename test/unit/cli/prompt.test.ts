import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { confirm, PromptAborted, readHidden, readLine, type PromptIo } from '../../../src/cli/prompt.js';

function io(): PromptIo & { input: PassThrough; written: () => string; rawModes: boolean[] } {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (raw: boolean) => rawModes.push(raw) });
  const output = new PassThrough();
  const rawModes: boolean[] = [];
  let text = '';
  output.setEncoding('utf8').on('data', (c: string) => (text += c));
  return { input, output, written: () => text, rawModes };
}

test('confirm: y and yes (any case) confirm; anything else, or end of input, declines', async () => {
  for (const [answer, expected] of [
    ['y\n', true],
    ['YES\n', true],
    [' yes \n', true],
    ['n\n', false],
    ['yep\n', false],
    ['\n', false],
  ] as const) {
    const t = io();
    const result = confirm('Delete?', t);
    t.input.end(answer);
    assert.equal(await result, expected, answer);
    assert.equal(t.written(), 'Delete? (y/N) ');
  }
  const closed = io();
  const result = readLine('Q? ', closed);
  closed.input.end();
  assert.equal(await result, '');
});

test('readHidden: no echo, backspace edits, raw mode restored', async () => {
  const t = io();
  const result = readHidden('Value: ', t);
  t.input.write('sek');
  t.input.write('\u007fcret\r');
  assert.equal(await result, 'secret');
  assert.equal(t.written(), 'Value: \n');
  assert.deepEqual(t.rawModes, [true, false]);
});

test('readHidden: Ctrl-C rejects with PromptAborted', async () => {
  const t = io();
  const result = readHidden('Value: ', t);
  t.input.write('abc\u0003');
  await assert.rejects(result, (err: PromptAborted) => err.code === 'prompt_aborted');
  assert.deepEqual(t.rawModes, [true, false]);
});
