import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ENV_KEYS } from '../../../src/config/schema.js';

// The fleet examples hold together: known config variables only, and no admin key, master key or
// real credential anywhere near a sidecar or a sandbox.

const CONFIG_VARS = new Set([...ENV_KEYS.map((k) => k.env), 'CREDPROXY_URL']);
const ADMIN_ONLY = ['CREDPROXY_API_KEY', 'CREDPROXY_MASTER_KEY', 'CREDPROXY_DATABASE_URL'];

interface ComposeService {
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[];
  secrets?: string[];
}

test('compose: sidecars and sandboxes see no admin key, master key or real credential', () => {
  const compose = parseYaml(readFileSync('examples/fleet/compose/docker-compose.yaml', 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
    networks: Record<string, { internal?: boolean }>;
  };
  const { services } = compose;
  assert.ok(services.postgres && services.control && services['sidecar-a'] && services['sidecar-b'] && services['sandbox-a'] && services['sandbox-b']);
  for (const [name, service] of Object.entries(services)) {
    for (const key of Object.keys(service.environment ?? {}))
      if (key.startsWith('CREDPROXY_')) assert.ok(CONFIG_VARS.has(key), `${name}: ${key} is a config variable`);
    if (/^(sidecar|sandbox)-/.test(name)) {
      for (const key of ADMIN_ONLY) assert.ok(!(key in (service.environment ?? {})), `${name} has no ${key}`);
      assert.ok(!(service.volumes ?? []).some((v) => v.includes('secrets')), `${name} mounts no real credential`);
    }
  }
  for (const sandbox of ['sandbox-a', 'sandbox-b']) {
    const networks = services[sandbox]!.networks!;
    assert.equal(networks.length, 1);
    assert.equal(compose.networks[networks[0]!]!.internal, true, `${sandbox} reaches only its sidecar`);
  }
  assert.equal(services['sidecar-a']!.environment!.CREDPROXY_ROLE, 'sidecar');
  assert.equal(services.control!.environment!.CREDPROXY_ROLE, 'control');
});

test('kubernetes: the sandbox pod holds only its sidecar token and its own env', () => {
  const objects = ['control-plane.yaml', 'sandbox.yaml'].flatMap((f) =>
    parseAllDocuments(readFileSync(`examples/fleet/kubernetes/${f}`, 'utf8')).map((d) => d.toJS()),
  );
  const pod = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sandbox-demo').spec.template.spec;
  const containers = [...pod.initContainers, ...pod.containers];
  for (const c of containers) {
    for (const e of c.env ?? []) {
      if (e.name.startsWith('CREDPROXY_')) assert.ok(CONFIG_VARS.has(e.name), `${c.name}: ${e.name}`);
      assert.ok(!ADMIN_ONLY.includes(e.name), `${c.name} has no ${e.name}`);
    }
  }
  assert.deepEqual(
    pod.volumes.filter((v: { secret?: unknown }) => v.secret).map((v: { secret: { secretName: string } }) => v.secret.secretName),
    ['sandbox-demo-env'],
  );
  const control = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'credproxy-control');
  assert.ok(control.spec.replicas >= 2, 'replicas are stateless');
});
