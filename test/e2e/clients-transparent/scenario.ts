// Runs inside the network namespace that clients-transparent.test.ts creates (as root there) and
// prints one `RESULT {json}` line: the client matrix of docs/operations.md §3 in transparent mode.
// Every client runs as nobody with no proxy variable at all (only its stand-ins, and where the
// runtime keeps its own trust store, the CA: NODE_EXTRA_CA_CERTS, the kit's PKCS12 for Java); the
// others read the CA from the system trust store. Test names resolve to 127.0.0.3 ("the internet").
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanarySet } from '../../helpers/canary.js';
import { buildGoClient, CLIENTS, type ClientCommand } from '../../helpers/client-commands.js';
import { startDaemon } from '../../helpers/harness/index.js';
import { createBareRepo, gitBackendHandler } from '../../helpers/git-backend.js';
import { createTestPki } from '../../helpers/pki.js';
import { startUpstream } from '../../helpers/upstream.js';
import { asNobody, BUNDLE, iptablesCli, printResult, python, rulesFlags, type Ran } from '../transparent-netns/support.js';

const canaries = new CanarySet();
const REAL = { openai: canaries.add('openai', 'sk-proj-'), anthropic: canaries.add('anthropic', 'sk-ant-api03-'), github: canaries.add('github', 'ghp_') };
const work = mkdtempSync(join(tmpdir(), 'credproxy-transparent-clients-'));
chmodSync(work, 0o777);
const pki = await createTestPki('clients-netns-upstream');
const upstream = await startUpstream({ pki, host: '127.0.0.3' });
// github.com is the real `git http-backend`, which asks for Basic x-access-token:<real>.
const repo = createBareRepo('acme', 'repo', 'hello\n');
const realBasic = `Basic ${Buffer.from(`x-access-token:${REAL.github}`).toString('base64')}`;
const git = createServer(
  { SNICallback: pki.certs.sniCallback },
  gitBackendHandler(repo.root, (authorization) => authorization === realBasic),
);
await new Promise<void>((resolve) => git.listen(0, '127.0.0.3', resolve));
const d = await startDaemon({
  flags: {
    'log.level': 'warn',
    'transparent.https': '[::]:0',
    'transparent.http': '[::]:0',
    'transparent.sandbox': 'transparent-clients',
    'upstream.caFile': pki.caPath,
    'upstream.resolve': [
      ...['api.openai.com', 'api.anthropic.com'].map((host) => `${host}:443=127.0.0.3:${upstream.port}`),
      `github.com:443=127.0.0.3:${(git.address() as AddressInfo).port}`,
    ],
  },
});
const result: Record<string, unknown> = {};
try {
  for (const provider of ['openai', 'anthropic', 'github'] as const) {
    await d.api('POST', '/secrets', { name: provider, value: REAL[provider], provider });
  }
  const sandbox = (
    await d.api('POST', '/sandboxes', {
      name: 'transparent-clients',
      secrets: { OPENAI_API_KEY: 'openai', ANTHROPIC_API_KEY: 'anthropic', GITHUB_TOKEN: 'github' },
    })
  ).json as { env: Record<string, string> };
  copyFileSync(join(d.config.dataDir, 'ca-bundle.pem'), BUNDLE);
  // The data dir is root's (0700): the trust store the sandbox mounts is a world-readable copy.
  const trustStore = join(work, 'truststore.p12');
  copyFileSync(join(d.config.dataDir, 'sandbox-kit', 'truststore.p12'), trustStore);
  chmodSync(trustStore, 0o644);
  const goProgram = await buildGoClient(work).then(
    (path) => {
      chmodSync(path, 0o755);
      return path;
    },
    (err: Error) => err.message,
  );
  result.apply = iptablesCli('--apply', ...rulesFlags(d.daemon.transparentHttpsAddress, d.daemon.transparentHttpAddress));

  const standIns = { OPENAI_API_KEY: sandbox.env.OPENAI_API_KEY!, ANTHROPIC_API_KEY: sandbox.env.ANTHROPIC_API_KEY! };
  const url = (name: string) => `https://api.openai.com/v1/t-${name}`;
  const node = { NODE_EXTRA_CA_CERTS: BUNDLE };
  const clients: Record<string, [ClientCommand, Record<string, string>?]> = {
    java: [CLIENTS.java(url('java')), { JAVA_TOOL_OPTIONS: `-Djavax.net.ssl.trustStore=${trustStore} -Djavax.net.ssl.trustStorePassword=changeit` }],
    curl: [CLIENTS.curl(url('curl'))],
    wget: [CLIENTS.wget(url('wget'))],
    requests: [CLIENTS.requests(url('requests'), python)],
    urllib: [CLIENTS.urllib(url('urllib'), python)],
    httpx: [CLIENTS.httpx(url('httpx'), python)],
    'http.client': [CLIENTS['http.client'](url('http.client'), python)],
    aiohttp: [CLIENTS.aiohttp(url('aiohttp'), python)],
    go: [CLIENTS.go(url('go'), goProgram)],
    ruby: [CLIENTS.ruby(url('ruby'))],
    'php-curl': [CLIENTS['php-curl'](url('php-curl'))],
    'php-streams': [CLIENTS['php-streams'](url('php-streams'))],
    fetch: [CLIENTS.fetch(url('fetch')), node],
    https: [CLIENTS.https(url('https')), node],
    undici: [CLIENTS.undici(url('undici')), node],
    axios: [CLIENTS.axios(url('axios')), node],
    openai: [CLIENTS.openai('https://api.openai.com/v1/models?c=t-openai'), node],
    'openai-v4': [CLIENTS.openai('https://api.openai.com/v1/models?c=t-openai-v4', 'openai-v4'), node],
    'anthropic-1': [CLIENTS.anthropic('https://api.anthropic.com/v1/messages?c=t-anthropic-1'), node],
    'anthropic-0': [CLIENTS.anthropic('https://api.anthropic.com/v1/messages?c=t-anthropic-0', 'anthropic-sdk-v0'), node],
  };
  const ran: Record<string, Ran> = {};
  // Three at a time: the JVM alone takes seconds of the namespace's two cores.
  const queue = Object.entries(clients);
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, [command, env]] = next;
        ran[name] = await asNobody(command.file, [...command.args], { ...standIns, ...env });
      }
    }),
  );
  const dest = join(work, 'clone');
  ran.git = await asNobody('git', ['clone', '-q', `https://x-access-token:${sandbox.env.GITHUB_TOKEN}@github.com/acme/repo.git`, dest], {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
  });
  result.ran = ran;
  result.standIns = { ...standIns, GITHUB_TOKEN: sandbox.env.GITHUB_TOKEN };
  result.real = REAL;
  result.upstreamSaw = upstream.seen.map((e) => ({ url: e.url, authorization: e.headers.authorization, 'x-api-key': e.headers['x-api-key'] }));
  result.leaks = canaries.find(JSON.stringify(ran) + d.logs.text);
  result.remove = iptablesCli('--remove', '--uid', '0');
} finally {
  await d.close();
  await upstream.close();
  git.closeAllConnections();
  await new Promise((resolve) => git.close(resolve));
  await pki.remove();
  rmSync(repo.root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
printResult(result);
