import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentFileError, parseAgentFile } from '../../../src/agents/agent-file.js';

test('the agent file shape of docs/contract.md#agent-file parses', () => {
  const { definition, unknownKeys } = parseAgentFile(
    'name: my-agent\ncommand: python agent.py\nsecrets:\n- ANTHROPIC_API_KEY\n- DATABASE_URL\n- ANTHROPIC_API_KEY\nignore: [.venv]\n',
  );
  assert.deepEqual(definition, { name: 'my-agent', command: 'python agent.py', secrets: ['ANTHROPIC_API_KEY', 'DATABASE_URL'] });
  assert.deepEqual(unknownKeys, []);
  assert.deepEqual(parseAgentFile('name: bare\n').definition, { name: 'bare', command: null, secrets: [] });
  assert.deepEqual(parseAgentFile('name: x\nsurprise: 1\n').unknownKeys, ['surprise']);
});

test('invalid agent files say what is wrong, naming the file', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /f\.yaml: expected a YAML mapping/],
    ['- a\n- b\n', /expected a YAML mapping/],
    ['name: [x\n', /f\.yaml: not valid YAML/],
    ['command: x\n', /f\.yaml: name is required/],
    ['name: 12345678901234567890123456789012345678901234567890\n', /must be 1-48 characters/],
    ['name: -dash\n', /must be 1-48 characters/],
    ['name: ok\ncommand: ""\n', /command must be a non-empty string/],
    ['name: ok\ncommand: [a]\n', /command must be a non-empty string/],
    ['name: ok\nsecrets: {A: 1}\n', /secrets must be a list/],
    ['name: ok\nsecrets: [1BAD]\n', /secrets\[0\]: "1BAD" must be a valid environment variable name/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseAgentFile(text, 'f.yaml'),
      (err: AgentFileError) => err.code === 'agent_file_invalid' && message.test(err.message),
      text,
    );
  }
});
