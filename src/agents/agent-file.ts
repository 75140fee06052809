import { parse as parseYaml } from 'yaml';

/** Agent names: what `secrets set <agent>` and the agent file's `name` accept. */
export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;
export const AGENT_NAME_RULE = "must be 1-48 characters: letters, digits, '-' and '_', starting with a letter or digit";

/** Environment variable names, the rule sandbox env keys follow too. */
export const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const ENV_KEY_RULE = "must be a valid environment variable name (letters, digits and '_', not starting with a digit, at most 64 characters)";

/** Keys superserve.yaml carries for its own deploys; accepted and ignored here. */
const FOREIGN_KEYS = new Set(['ignore', 'description', 'dependencies', 'python', 'env', 'runtime']);

/** A registered agent's definition, as `PUT /v1/agents/{agent}` takes it. */
export interface AgentFileDefinition {
  name: string;
  /** Shell command `credproxy run` starts; null when the file names none. */
  command: string | null;
  /** Required secret keys, in file order, without duplicates. */
  secrets: string[];
}

/** An agent file that cannot be used; the message names the file and the key. */
export class AgentFileError extends Error {
  readonly code = 'agent_file_invalid';

  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'AgentFileError';
  }
}

export interface ParsedAgentFile {
  definition: AgentFileDefinition;
  /** Keys that were neither ours nor superserve.yaml's, ignored; worth a warning. */
  unknownKeys: string[];
}

/**
 * Parses an agent file (`credproxy.yaml`, docs/contract.md#agent-file):
 * `name` (required), `command` (optional string) and `secrets` (optional list of required keys).
 */
export function parseAgentFile(text: string, source = 'credproxy.yaml'): ParsedAgentFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AgentFileError(source, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new AgentFileError(source, 'expected a YAML mapping with name, command and secrets');
  }
  const fields = doc as Record<string, unknown>;
  const definition = validateAgentDefinition(fields, source);
  const unknownKeys = Object.keys(fields).filter((k) => !['name', 'command', 'secrets'].includes(k) && !FOREIGN_KEYS.has(k));
  return { definition, unknownKeys };
}

/** Validates `{name, command?, secrets?}` from a file or a request body; throws AgentFileError. */
export function validateAgentDefinition(fields: Record<string, unknown>, source: string): AgentFileDefinition {
  const { name, command, secrets } = fields;
  if (name === undefined || name === null || name === '') throw new AgentFileError(source, 'name is required');
  if (typeof name !== 'string' || !AGENT_NAME_PATTERN.test(name)) {
    throw new AgentFileError(source, `name ${JSON.stringify(name)} ${AGENT_NAME_RULE}`);
  }
  if (command !== undefined && command !== null && (typeof command !== 'string' || command.trim() === '')) {
    throw new AgentFileError(source, 'command must be a non-empty string, e.g. command: node agent.js');
  }
  if (secrets !== undefined && secrets !== null && !Array.isArray(secrets)) {
    throw new AgentFileError(source, 'secrets must be a list of environment variable names, e.g. secrets: [ANTHROPIC_API_KEY]');
  }
  const required: string[] = [];
  for (const [i, key] of ((secrets as unknown[] | null | undefined) ?? []).entries()) {
    if (typeof key !== 'string' || !ENV_KEY_PATTERN.test(key)) {
      throw new AgentFileError(source, `secrets[${i}]: ${JSON.stringify(key)} ${ENV_KEY_RULE}`);
    }
    if (!required.includes(key)) required.push(key);
  }
  return { name, command: typeof command === 'string' ? command : null, secrets: required };
}
