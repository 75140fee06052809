import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { CanarySet } from './canary.js';
import { ROOT } from './client-commands.js';
import { startWorld, type World } from './harness/index.js';

/**
 * A daemon and its echo upstream with one sandbox holding stand-ins for an openai (bearer) and
 * an anthropic (provider shortcut) secret, for running real clients with nothing but the env
 * `POST /sandboxes` returned.
 */
export interface SandboxClients {
  world: World;
  canaries: CanarySet;
  /** The sandbox's env, as the API returned it. */
  env: Record<string, string>;
  /** The sandbox as the API created it (`id`, `access_token` …). */
  sandbox: { id: string; access_token: string };
  /** Runs a client with the sandbox's env only (plus PATH, HOME and `extra`), bounded in time. */
  run(file: string, args: string[], extra?: NodeJS.ProcessEnv): Promise<ClientRun>;
  /**
   * The client printed the echo with its own stand-in in it; the upstream got the real value
   * (by default openai's, as `Authorization: Bearer`).
   */
  assertSwapped(client: string, out: string, path: string, expect?: Swap): void;
  close(): Promise<void>;
}

/** Which stand-in went out and what the upstream must have received instead. */
export interface Swap {
  secret: 'openai' | 'anthropic';
  header: 'authorization' | 'x-api-key';
}

export interface ClientRun {
  code: number;
  out: string;
}

/**
 * `extra` adds secrets (POST /secrets bodies, their value a canary labelled by the env key),
 * bound under their env key.
 */
export async function startSandboxClients(name: string, extra: Record<string, { name: string; auth: unknown; hosts: string[] }> = {}): Promise<SandboxClients> {
  const canaries = new CanarySet();
  const openai = canaries.add('openai', 'sk-proj-');
  const anthropic = canaries.add('anthropic', 'sk-ant-api03-');
  const world = await startWorld({ flags: { 'log.level': 'info' } });
  for (const [secret, value] of [
    ['openai', openai],
    ['anthropic', anthropic],
  ]) {
    const created = await world.daemon.api('POST', '/secrets', { name: secret, value, provider: secret });
    assert.equal(created.status, 201, created.text);
  }
  const bound: Record<string, string> = { OPENAI_API_KEY: 'openai', ANTHROPIC_API_KEY: 'anthropic' };
  for (const [envKey, secret] of Object.entries(extra)) {
    const created = await world.daemon.api('POST', '/secrets', { ...secret, value: canaries.add(envKey) });
    assert.equal(created.status, 201, created.text);
    bound[envKey] = secret.name;
  }
  const sandbox = await world.daemon.api('POST', '/sandboxes', { name, secrets: bound });
  assert.equal(sandbox.status, 201, sandbox.text);
  const env: Record<string, string> = sandbox.json.env;
  const reals = { openai, anthropic };
  const standIns = { openai: env.OPENAI_API_KEY!, anthropic: env.ANTHROPIC_API_KEY! };

  return {
    world,
    canaries,
    env,
    sandbox: sandbox.json,
    run(file, args, extra = {}) {
      return new Promise((resolve) => {
        execFile(
          file,
          args,
          {
            cwd: ROOT,
            env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, ...extra },
            timeout: 30_000,
            encoding: 'utf8',
            maxBuffer: 4 << 20,
          },
          (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    },
    assertSwapped(client, out, path, expect = { secret: 'openai', header: 'authorization' }) {
      canaries.assertAbsent(`${client}'s output`, out);
      assert.ok(out.includes(standIns[expect.secret]), `${client} sees its stand-in echoed: ${out.slice(0, 600)}`);
      const seen = world.upstream.seen.findLast((s) => s.url === path);
      assert.ok(seen, `${client}'s request reached the upstream at ${path}: ${out.slice(0, 600)}`);
      const real = reals[expect.secret];
      assert.equal(
        seen.headers[expect.header],
        expect.header === 'authorization' ? `Bearer ${real}` : real,
        `${client}: the upstream got the real value in ${expect.header}`,
      );
      assert.equal(seen.headers['proxy-authorization'], undefined);
    },
    close: () => world.close(),
  };
}

/** A skip reason when `tool` is not on PATH (`.ci/run` installs every one), else false. */
export function missingTool(tool: string, debianPackage: string): string | false {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
  return found ? false : `${tool} is not installed (.ci/run installs Debian's ${debianPackage})`;
}

/** A skip reason when the test's Python lacks `module`, else false. */
export function missingPythonModule(python: string, module: string, debianPackage: string): string | false {
  const found = spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  return found ? false : `${python} has no ${module} module (.ci/run installs Debian's ${debianPackage})`;
}
