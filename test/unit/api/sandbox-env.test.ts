import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSandboxEnv, sandboxProxyUrl } from '../../../src/api/sandbox-env.js';
import type { SandboxRecord } from '../../../src/store/index.js';

const SANDBOX: SandboxRecord = {
  id: 'id-1',
  name: 'sb',
  status: 'active',
  createdAt: '2030-01-01T00:00:00.000Z',
  accessToken: 'tok_EN-1',
  envVars: { PLAIN: 'yes', HTTPS_PROXY: 'http://elsewhere:1' },
  network: { allow_out: [], deny_out: [] },
  metadata: {},
  sourceAddresses: [],
  bindings: [
    { envKey: 'LIVE', secretName: 's', standIn: 'stand-in-live', revoked: null },
    { envKey: 'GONE', secretName: 't', standIn: 'stand-in-gone', revoked: 'credential_revoked' },
  ],
  expiresAt: null,
};

test('env: live stand-ins, plain vars, proxy and CA variables (which env_vars cannot override)', () => {
  const env = buildSandboxEnv(SANDBOX, { proxyUrl: 'http://10.0.0.5:8080', caPath: '/ca.pem' });
  assert.deepEqual(env, {
    LIVE: 'stand-in-live',
    PLAIN: 'yes',
    HTTPS_PROXY: 'http://sb:tok_EN-1@10.0.0.5:8080',
    https_proxy: 'http://sb:tok_EN-1@10.0.0.5:8080',
    NO_PROXY: 'localhost,127.0.0.1',
    no_proxy: 'localhost,127.0.0.1',
    NODE_EXTRA_CA_CERTS: '/ca.pem',
    SSL_CERT_FILE: '/ca.pem',
    REQUESTS_CA_BUNDLE: '/ca.pem',
    CURL_CA_BUNDLE: '/ca.pem',
    GIT_SSL_CAINFO: '/ca.pem',
    HTTP_PROXY: 'http://sb:tok_EN-1@10.0.0.5:8080',
    http_proxy: 'http://sb:tok_EN-1@10.0.0.5:8080',
    NODE_USE_ENV_PROXY: '1',
  });
});

test("env with the kit: Node preload, JVM proxy and trust store, wgetrc, PHP ini; the sandbox's own options kept", () => {
  const sandbox = { ...SANDBOX, envVars: { NODE_OPTIONS: '--max-old-space-size=512', JAVA_TOOL_OPTIONS: '-Xmx1g', PHP_INI_SCAN_DIR: '/etc/php/extra' } };
  const env = buildSandboxEnv(sandbox, { proxyUrl: 'http://10.0.0.5:8080', caPath: '/ca.pem', kit: { path: '/kit', agents: true } });
  assert.equal(env.NODE_OPTIONS, '--require /kit/node-preload.cjs --max-old-space-size=512');
  assert.equal(
    env.JAVA_TOOL_OPTIONS,
    [
      '-javaagent:/kit/credproxy-java-agent.jar',
      '-Dhttps.proxyHost=10.0.0.5',
      '-Dhttps.proxyPort=8080',
      '-Dhttp.proxyHost=10.0.0.5',
      '-Dhttp.proxyPort=8080',
      '-Dhttp.nonProxyHosts=localhost|127.0.0.1',
      '-Djavax.net.ssl.trustStore=/kit/truststore.p12',
      '-Djavax.net.ssl.trustStoreType=PKCS12',
      '-Djavax.net.ssl.trustStorePassword=changeit',
      '-Djdk.http.auth.tunneling.disabledSchemes=',
      '-Xmx1g',
    ].join(' '),
  );
  assert.equal(env.WGETRC, '/kit/wgetrc');
  assert.equal(env.PHP_INI_SCAN_DIR, '/etc/php/extra:/kit/php');
  // Without the built agents NODE_OPTIONS is the sandbox's own and the JVM gets no agent.
  const noPreload = buildSandboxEnv(sandbox, { proxyUrl: 'http://10.0.0.5:8080', caPath: '/ca.pem', kit: { path: '/kit', agents: false } });
  assert.equal(noPreload.NODE_OPTIONS, '--max-old-space-size=512');
  assert.ok(!noPreload.JAVA_TOOL_OPTIONS!.includes('-javaagent'));
});

test('proxy URL: host and port kept, path and existing credentials dropped', () => {
  assert.equal(sandboxProxyUrl('http://proxy.internal:3128/', 'abc'), 'http://sb:abc@proxy.internal:3128');
  assert.equal(sandboxProxyUrl('http://u:p@[::1]:8080', 'abc'), 'http://sb:abc@[::1]:8080');
});
