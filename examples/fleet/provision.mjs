// Plays the orchestrator in fleet mode, from outside the sandbox's pod or container group:
//  - with SECRETS_DIR: stores each file there as a secret on the control plane (POST, or PATCH to rotate);
//  - with SIDECAR_NAME: registers that sidecar (re-registering it mints a new token), creates the
//    sandbox assigned to it (metadata credproxy_sidecar; a previous run's sandbox of that name is
//    deleted first, as its sidecar's old token is, so one live sandbox has the name) and writes two files:
//      <TOKEN_FILE>  the sidecar's token (0600): only the sidecar reads it;
//      <ENV_FILE>    the sandbox's environment (stand-ins, HTTPS_PROXY with its access token, CA vars).
// No real credential and no admin key ever reaches the sidecar or the sandbox. Plain Node (>= 20).
//
// Environment:
//   CREDPROXY_URL      control plane admin URL (default http://127.0.0.1:8081)
//   CREDPROXY_API_KEY  admin API key (required)
//   SECRETS_DIR        optional: one file per secret name, holding its real value; the name is the provider shortcut
//   SIDECAR_NAME       optional: the sidecar to register (lowercase letters, digits, hyphens)
//   SANDBOX_NAME       the sandbox's name (default: SIDECAR_NAME)
//   SANDBOX_SECRETS    ENV_KEY=secret_name pairs, comma-separated, e.g. ANTHROPIC_API_KEY=anthropic
//   PROXY_ADDRESS      host:port the sandbox reaches its sidecar at, put into HTTPS_PROXY (default: the control plane's sandbox.proxyUrl)
//   TOKEN_FILE         default /out/sidecar/token
//   ENV_FILE           default /out/sandbox/sandbox.env
import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const base = (process.env.CREDPROXY_URL ?? 'http://127.0.0.1:8081').replace(/\/+$/, '');
const apiKey = process.env.CREDPROXY_API_KEY || fail('CREDPROXY_API_KEY is not set');

function fail(message) {
  console.error(`provision: ${message}`);
  process.exit(1);
}

async function call(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const payload = res.status === 204 ? undefined : await res.json().catch(() => undefined);
  return { status: res.status, payload };
}

function check(what, res, ...ok) {
  // The admin API never echoes a value or a token in an error, so its message is safe to print.
  if (!ok.includes(res.status)) fail(`${what}: HTTP ${res.status} ${res.payload?.error?.code ?? ''} ${res.payload?.error?.message ?? ''}`);
  return res.payload;
}

function writePrivate(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

if (process.env.SECRETS_DIR) {
  for (const name of readdirSync(process.env.SECRETS_DIR).filter((f) => !f.startsWith('.'))) {
    const value = readFileSync(join(process.env.SECRETS_DIR, name), 'utf8').trim();
    const created = await call('POST', '/secrets', { name, value, provider: name });
    if (created.status === 409) check(`rotating ${name}`, await call('PATCH', `/secrets/${name}`, { value }), 200);
    else check(`creating ${name}`, created, 201);
    console.log(JSON.stringify({ msg: 'secret stored', name }));
  }
}

const sidecar = process.env.SIDECAR_NAME;
if (sidecar) {
  const secrets = Object.fromEntries((process.env.SANDBOX_SECRETS ?? '').split(',').map((p) => p.trim()).filter(Boolean).map((p) => p.split('=')));
  // A fresh token on every run: the previous one (if any) stops working.
  check('revoking the old token', await call('DELETE', `/fleet/sidecars/${sidecar}`), 204, 404);
  const { token } = check('registering the sidecar', await call('POST', '/fleet/sidecars', { name: sidecar }), 201);
  const name = process.env.SANDBOX_NAME ?? sidecar;
  const previous = check('listing sandboxes', await call('GET', '/sandboxes'), 200).find((s) => s.name === name);
  if (previous) check('deleting the previous sandbox', await call('DELETE', `/sandboxes/${previous.id}`), 204, 404);
  const sandbox = check('creating the sandbox', await call('POST', '/sandboxes', { name, secrets, metadata: { credproxy_sidecar: sidecar } }), 201);
  const env = { ...sandbox.env };
  if (process.env.PROXY_ADDRESS) {
    for (const key of ['HTTPS_PROXY', 'https_proxy']) env[key] = env[key].replace(/@[^/]+$/, `@${process.env.PROXY_ADDRESS}`);
  }
  writePrivate(process.env.TOKEN_FILE ?? '/out/sidecar/token', `${token}\n`);
  const envFile = process.env.ENV_FILE ?? '/out/sandbox/sandbox.env';
  writePrivate(envFile, Object.entries(env).map(([k, v]) => `export ${k}='${String(v).replaceAll("'", "'\\''")}'\n`).join(''));
  chmodSync(envFile, 0o644); // the sandbox runs as another user; the file holds stand-ins only
  console.log(JSON.stringify({ msg: 'sandbox provisioned', sidecar, sandbox_id: sandbox.id }));
}
