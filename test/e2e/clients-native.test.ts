import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { missingPythonModule, missingTool, ROOT, startSandboxClients, type SandboxClients } from '../helpers/sandbox-clients.js';

/**
 * Explicit mode (issue #12 §2), clients outside Node: each one runs with nothing but the env
 * `POST /sandboxes` returned (proxy URL with the access token, CA variables, the kit's rc files)
 * and calls api.openai.com with its stand-in; the upstream must receive the real value and the
 * client's output hold only the stand-in. One daemon and upstream for the file; the clients run
 * at the same time.
 */
const PYTHON = process.env.CREDPROXY_TEST_PYTHON ?? 'python3';
const BEARER = 'Bearer $OPENAI_API_KEY';
let clients: SandboxClients;
let work: string;
/** The Go client, built once per run in its own GOCACHE. */
let goProgram: Promise<string>;

before(async () => {
  clients = await startSandboxClients('native');
  work = mkdtempSync(join(tmpdir(), 'credproxy-clients-'));
  if (!missingTool('go', 'golang-go')) {
    const out = join(work, 'openai-get');
    const env = { PATH: process.env.PATH, HOME: work, GOCACHE: join(work, 'gocache'), GOPATH: join(work, 'gopath'), GO111MODULE: 'off' };
    goProgram = promisify(execFile)('go', ['build', '-o', out, join(ROOT, 'test/fixtures/clients/openai-get.go')], { env, timeout: 60_000 }).then(() => out);
    goProgram.catch(() => undefined);
  }
});

after(async () => {
  await clients?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Runs `client` and checks the swap at `/v1/<name>`; `expectStatus` where the client prints it. */
async function expectSwap(name: string, file: string, args: string[]): Promise<void> {
  const res = await clients.run(file, args);
  assert.equal(res.code, 0, `${name} failed: ${res.out}`);
  clients.assertSwapped(name, res.out, `/v1/${name}`);
}

describe('explicit mode: the sandbox env alone', { concurrency: true }, () => {
  test('curl: HTTPS_PROXY and CURL_CA_BUNDLE', { skip: missingTool('curl', 'curl') }, () =>
    expectSwap('curl', 'sh', ['-c', `curl -sS --max-time 15 -H "Authorization: ${BEARER}" https://api.openai.com/v1/curl`]));

  test('wget (GnuTLS): https_proxy and the kit\'s WGETRC ca_certificate', { skip: missingTool('wget', 'wget') }, () =>
    expectSwap('wget', 'sh', ['-c', `wget -q -O - --header "Authorization: ${BEARER}" https://api.openai.com/v1/wget`]));

  test('Python requests: HTTPS_PROXY and REQUESTS_CA_BUNDLE', { skip: missingPythonModule(PYTHON, 'requests', 'python3-requests') }, () =>
    expectSwap('requests', PYTHON, ['-c', "import os, requests; r = requests.get('https://api.openai.com/v1/requests', headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']}, timeout=15); print(r.status_code, r.text)"]));

  test('Python urllib: HTTPS_PROXY and SSL_CERT_FILE', { skip: missingTool(PYTHON, 'python3') }, () =>
    expectSwap('urllib', PYTHON, ['-c', "import os, urllib.request as u; r = u.urlopen(u.Request('https://api.openai.com/v1/urllib', headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']}), timeout=15); print(r.status, r.read().decode())"]));

  test('Python httpx: HTTPS_PROXY and SSL_CERT_FILE', { skip: missingPythonModule(PYTHON, 'httpx', 'python3-httpx') }, () =>
    expectSwap('httpx', PYTHON, ['-c', "import os, httpx; r = httpx.get('https://api.openai.com/v1/httpx', headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']}, timeout=15); print(r.status_code, r.text)"]));

  test('Go net/http: ProxyFromEnvironment and SSL_CERT_FILE', { skip: missingTool('go', 'golang-go') }, async () =>
    expectSwap('go', await goProgram, []));

  test('Ruby Net::HTTP: http_proxy (read even for https) and SSL_CERT_FILE', { skip: missingTool('ruby', 'ruby') }, () =>
    expectSwap('ruby', 'ruby', ['-rnet/http', '-e', "u = URI('https://api.openai.com/v1/ruby'); r = Net::HTTP.start(u.host, u.port, use_ssl: true) { |h| h.get(u.path, 'Authorization' => 'Bearer ' + ENV['OPENAI_API_KEY']) }; puts r.code, r.body"]));

  test('Java 17 HttpClient: JAVA_TOOL_OPTIONS (the kit\'s agent, trust store and proxy), one JVM run', { skip: missingTool('java', 'openjdk-17-jdk-headless') }, async () => {
    // Single-file source launch: the JVM compiles the fixture in memory, no javac step.
    const res = await clients.run('java', [join(ROOT, 'test/fixtures/clients/OpenAiGet.java')]);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /^200 /m);
    clients.assertSwapped('java', res.out, '/v1/java');
  });

  test('PHP ext/curl: https_proxy and the kit\'s PHP_INI_SCAN_DIR curl.cainfo', { skip: missingTool('php', 'php-cli') }, async () => {
    const script = [
      'if (!function_exists("curl_init")) { fwrite(STDERR, "no curl extension\\n"); exit(3); }',
      '$c = curl_init("https://api.openai.com/v1/php");',
      'curl_setopt($c, CURLOPT_HTTPHEADER, ["Authorization: Bearer " . getenv("OPENAI_API_KEY")]);',
      'curl_setopt($c, CURLOPT_RETURNTRANSFER, true);',
      '$body = curl_exec($c);',
      'if ($body === false) { fwrite(STDERR, curl_error($c) . "\\n"); exit(1); }',
      'echo curl_getinfo($c, CURLINFO_HTTP_CODE), " ", $body, "\\n";',
    ].join(' ');
    const res = await clients.run('php', ['-r', script]);
    assert.notEqual(res.code, 3, 'php has no curl extension (.ci/run installs Debian\'s php-curl)');
    assert.equal(res.code, 0, res.out);
    clients.assertSwapped('php', res.out, '/v1/php');
  });
});

test('the daemon log holds no real value after every client', () => {
  clients.canaries.assertAbsent('the daemon log', clients.world.daemon.logs.text);
});
