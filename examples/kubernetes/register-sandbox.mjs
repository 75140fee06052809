// Plays the orchestrator for one sandbox: stores the real credentials in credproxy, registers the
// sandbox, and writes the environment credproxy hands back (stand-in tokens, HTTPS_PROXY with the
// sandbox's access token, CA trust variables) to a file the sandbox sources before it starts.
// It runs in its own short-lived container so that neither the admin API key nor a real credential
// is ever visible to the sandbox. Plain Node (>= 20), no dependencies.
//
// Safe to run again (the pod restarted, `docker compose up` once more): the live sandbox of that
// name is reused when it binds exactly SANDBOX_SECRETS, so its tokens and the env file stay the
// same; otherwise it is deleted and created again. Either way one live sandbox has the name.
//
// Environment:
//   CREDPROXY_URL      admin API base URL (default http://127.0.0.1:8081)
//   CREDPROXY_API_KEY  admin API key (required)
//   SANDBOX_NAME       name recorded for the sandbox (required)
//   SANDBOX_SECRETS    ENV_KEY=secret_name pairs, comma-separated, e.g. ANTHROPIC_API_KEY=anthropic
//   SECRETS_DIR        directory holding one file per secret_name with its real value (default /run/secrets)
//   ENV_FILE           where to write the sandbox's environment (default /certs/sandbox.env)
//   PROXY_ENV          "omit" leaves HTTPS_PROXY, HTTP_PROXY and NO_PROXY (any case) out of the file:
//                      in transparent mode the kernel sends the sandbox's traffic to credproxy anyway
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const base = (process.env.CREDPROXY_URL ?? 'http://127.0.0.1:8081').replace(/\/+$/, '');
const apiKey = required('CREDPROXY_API_KEY');
const sandboxName = required('SANDBOX_NAME');
const secretsDir = process.env.SECRETS_DIR ?? '/run/secrets';
const envFile = process.env.ENV_FILE ?? '/certs/sandbox.env';
const omitProxyEnv = process.env.PROXY_ENV === 'omit';
const PROXY_VARIABLES = /^(https?|no)_proxy$/i;
const bindings = Object.fromEntries(
  (process.env.SANDBOX_SECRETS ?? '').split(',').map((pair) => pair.trim()).filter(Boolean).map((pair) => {
    const [envKey, secretName] = pair.split('=');
    if (!envKey || !secretName) fail(`SANDBOX_SECRETS entry "${pair}" is not ENV_KEY=secret_name`);
    return [envKey, secretName];
  }),
);

function required(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

function fail(message) {
  console.error(`register-sandbox: ${message}`);
  process.exit(1);
}

async function call(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const payload = res.status === 204 ? undefined : await res.json().catch(() => undefined);
  return { status: res.status, payload };
}

function apiFailure(what, { status, payload }) {
  // The admin API never echoes a secret's value, so its message is safe to print.
  return `${what} failed: HTTP ${status} ${payload?.error?.code ?? ''} ${payload?.error?.message ?? ''}`.trim();
}

/** Creates the secret from its provider shortcut, or rotates it when it already exists (restarts). */
async function storeSecret(name) {
  const value = readFileSync(join(secretsDir, name), 'utf8').trim();
  const created = await call('POST', '/secrets', { name, value, provider: name });
  if (created.status === 201) return;
  if (created.status !== 409) fail(apiFailure(`creating secret ${name}`, created));
  const rotated = await call('PATCH', `/secrets/${encodeURIComponent(name)}`, { value });
  if (rotated.status !== 200) fail(apiFailure(`rotating secret ${name}`, rotated));
}

/** True when the sandbox binds exactly `wanted` (ENV_KEY → secret name), none of them revoked. */
function bindsExactly(sandbox, wanted) {
  const live = sandbox.secrets.filter((b) => !b.revoked);
  return live.length === sandbox.secrets.length && live.length === Object.keys(wanted).length
    && live.every((b) => wanted[b.env_key] === b.secret_name);
}

/**
 * The sandbox named `name` with `bindings`: created, or the live one of that name (a 409 says
 * there is one) reused or, when its bindings differ, replaced.
 */
async function registerSandbox(name, bindings) {
  const created = await call('POST', '/sandboxes', { name, secrets: bindings });
  if (created.status === 201) return created.payload;
  const listed = created.status === 409 ? await call('GET', '/sandboxes') : undefined;
  const existing = listed?.status === 200 ? listed.payload.find((s) => s.name === name) : undefined;
  // A 409 for another reason (a source address), or another failure: nothing to reuse.
  if (!existing) fail(apiFailure(`creating sandbox ${name}`, created));
  if (bindsExactly(existing, bindings)) {
    console.log(JSON.stringify({ msg: 'sandbox reused', sandbox_id: existing.id }));
    return existing;
  }
  const deleted = await call('DELETE', `/sandboxes/${encodeURIComponent(existing.id)}`);
  if (deleted.status !== 204 && deleted.status !== 404) fail(apiFailure(`replacing sandbox ${name}`, deleted));
  const again = await call('POST', '/sandboxes', { name, secrets: bindings });
  if (again.status !== 201) fail(apiFailure(`creating sandbox ${name}`, again));
  return again.payload;
}

/** `export KEY='value'` lines: safe to source from sh whatever the value holds. */
function shellLines(env) {
  return Object.entries(env).map(([key, value]) => `export ${key}='${String(value).replaceAll("'", "'\\''")}'`).join('\n');
}

for (const secretName of new Set(Object.values(bindings))) await storeSecret(secretName);
const sandbox = await registerSandbox(sandboxName, bindings);
// Written whole and renamed into place so the sandbox never sources half a file.
const env = Object.fromEntries(Object.entries(sandbox.env).filter(([key]) => !(omitProxyEnv && PROXY_VARIABLES.test(key))));
writeFileSync(`${envFile}.tmp`, `${shellLines(env)}\n`, { mode: 0o644 });
renameSync(`${envFile}.tmp`, envFile);
console.log(JSON.stringify({ msg: 'sandbox registered', sandbox_id: sandbox.id, env_file: envFile }));
