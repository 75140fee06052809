import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvFileError, parseEnvFile } from '../../../src/cli/env-file.js';

test('dotenv rules: comments, blanks, export, quotes, = in values, CRLF', () => {
  const text = [
    '\uFEFF# comment',
    '',
    '   ',
    'export A=1',
    'B = two words  ',
    'C=a=b==c',
    "D='single $HOME # kept'",
    'E="tab\\there \\"q\\" back\\\\slash"',
    'F=value # trailing comment',
    'G=pa#ss',
    'H=#only-comment',
    'I=',
    "J='x' # after quotes",
    'A=overridden',
    'K=crlf\r',
  ].join('\n');
  assert.deepEqual(parseEnvFile(text), {
    A: 'overridden',
    B: 'two words',
    C: 'a=b==c',
    D: 'single $HOME # kept',
    E: 'tab\there "q" back\\slash',
    F: 'value',
    G: 'pa#ss',
    H: '',
    I: '',
    J: 'x',
    K: 'crlf',
  });
});

test('double- and single-quoted values may span lines', () => {
  const text = 'CERT="-----BEGIN-----\nabc\n-----END-----"\nNEXT=1\nRAW=\'l1\nl2\'\n';
  assert.deepEqual(parseEnvFile(text), { CERT: '-----BEGIN-----\nabc\n-----END-----', NEXT: '1', RAW: 'l1\nl2' });
});

test('errors name the file and line, never the value', () => {
  assert.throws(
    () => parseEnvFile('A=1\nno equals here\n', 'x.env'),
    (err: EnvFileError) => {
      assert.equal(err.code, 'env_file_invalid');
      assert.equal(err.message, 'x.env:2: expected KEY=VALUE');
      return true;
    },
  );
  assert.throws(() => parseEnvFile('=secret-value', 'x.env'), /x\.env:1: empty key before "="/);
  assert.throws(
    () => parseEnvFile('K="secret-value\nmore', 'x.env'),
    (err: Error) => {
      assert.equal(err.message, 'x.env:1: unterminated double-quoted value for K');
      assert.ok(!err.message.includes('secret-value'));
      return true;
    },
  );
});
