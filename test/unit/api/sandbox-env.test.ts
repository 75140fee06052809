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
  });
});

test('proxy URL: host and port kept, path and existing credentials dropped', () => {
  assert.equal(sandboxProxyUrl('http://proxy.internal:3128/', 'abc'), 'http://sb:abc@proxy.internal:3128');
  assert.equal(sandboxProxyUrl('http://u:p@[::1]:8080', 'abc'), 'http://sb:abc@[::1]:8080');
});
