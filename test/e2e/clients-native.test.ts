import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGoClient, CLIENTS, PYTHON, type ClientCommand } from '../helpers/client-commands.js';
import { missingPythonModule, missingTool, startSandboxClients, type SandboxClients } from '../helpers/sandbox-clients.js';

/**
 * Explicit mode (issue #12 §2), clients outside Node: each one runs with nothing but the env
 * `POST /sandboxes` returned (proxy URL with the access token, CA variables, the kit's rc files
 * and agent) and calls api.openai.com with its stand-in; the upstream must receive the real value
 * and the client's output hold only the stand-in. One daemon and upstream for the file; the
 * clients run at the same time.
 */
let clients: SandboxClients;
let work: string;
/** The Go client, built once per run in its own GOCACHE. */
let goProgram: Promise<string>;

before(async () => {
  clients = await startSandboxClients('native');
  work = mkdtempSync(join(tmpdir(), 'credproxy-clients-'));
  if (!missingTool('go', 'golang-go')) goProgram = buildGoClient(work);
});

after(async () => {
  await clients?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Runs the client against `/v1/<name>` and checks the swap. */
async function expectSwap(name: string, command: ClientCommand): Promise<void> {
  const res = await clients.run(command.file, [...command.args]);
  assert.notEqual(res.code, 3, `${name}: ${res.out}`);
  assert.equal(res.code, 0, `${name} failed: ${res.out}`);
  clients.assertSwapped(name, res.out, `/v1/${name}`);
}

const url = (name: string) => `https://api.openai.com/v1/${name}`;

describe('explicit mode: the sandbox env alone', { concurrency: true }, () => {
  test('curl: HTTPS_PROXY and CURL_CA_BUNDLE', { skip: missingTool('curl', 'curl') }, () => expectSwap('curl', CLIENTS.curl(url('curl'))));
  test("wget (GnuTLS): https_proxy and the kit's WGETRC ca_certificate", { skip: missingTool('wget', 'wget') }, () =>
    expectSwap('wget', CLIENTS.wget(url('wget'))),
  );
  test('Python requests: HTTPS_PROXY and REQUESTS_CA_BUNDLE', { skip: missingPythonModule(PYTHON, 'requests', 'python3-requests') }, () =>
    expectSwap('requests', CLIENTS.requests(url('requests'), PYTHON)),
  );
  test('Python urllib: HTTPS_PROXY and SSL_CERT_FILE', { skip: missingTool(PYTHON, 'python3') }, () =>
    expectSwap('urllib', CLIENTS.urllib(url('urllib'), PYTHON)),
  );
  test('Python httpx: HTTPS_PROXY and SSL_CERT_FILE', { skip: missingPythonModule(PYTHON, 'httpx', 'python3-httpx') }, () =>
    expectSwap('httpx', CLIENTS.httpx(url('httpx'), PYTHON)),
  );
  test('Go net/http: ProxyFromEnvironment and SSL_CERT_FILE', { skip: missingTool('go', 'golang-go') }, async () =>
    expectSwap('go', CLIENTS.go(url('go'), await goProgram)),
  );
  test('Ruby Net::HTTP: http_proxy (read even for https) and SSL_CERT_FILE', { skip: missingTool('ruby', 'ruby') }, () =>
    expectSwap('ruby', CLIENTS.ruby(url('ruby'))),
  );
  // Single-file source launch: the JVM compiles the fixture in memory, no javac step.
  test(
    "Java 17 HttpClient: JAVA_TOOL_OPTIONS (the kit's agent, trust store and proxy), one JVM run",
    { skip: missingTool('java', 'openjdk-17-jdk-headless') },
    () => expectSwap('java', CLIENTS.java(url('java'))),
  );
  // Exit 3: php without its curl extension (.ci/run installs Debian's php-curl).
  test("PHP ext/curl: https_proxy and the kit's PHP_INI_SCAN_DIR curl.cainfo", { skip: missingTool('php', 'php-cli') }, () =>
    expectSwap('php-curl', CLIENTS['php-curl'](url('php-curl'))),
  );
});

test('the daemon log holds no real value after every client', () => {
  clients.canaries.assertAbsent('the daemon log', clients.world.daemon.logs.text);
});
