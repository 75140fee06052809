import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ENV_KEYS } from '../../../src/config/schema.js';
import type { UntypedJson } from '../../helpers/harness/index.js';

const K8S = 'examples/kubernetes';
const COMPOSE = 'examples/compose/docker-compose.yaml';
const CA_TRUST_VARS = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'];
const CONFIG_VARS = new Set(ENV_KEYS.map((k) => k.env));
const run = promisify(execFile);

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  restartPolicy?: string;
  command?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts?: Mount[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    runAsUser?: number;
  };
}
interface PodSpec {
  initContainers: Container[];
  containers: Container[];
  securityContext: { runAsNonRoot?: boolean };
  automountServiceAccountToken?: boolean;
  volumes: Array<{ name: string; secret?: unknown }>;
}
interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  stringData?: Record<string, string>;
  spec?: { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } };
}

/** Every object of every manifest in the folder; the kustomization's references must exist. */
function k8sObjects(): K8sObject[] {
  const kustomization = parseYaml(readFileSync(`${K8S}/kustomization.yaml`, 'utf8')) as { resources: string[]; configMapGenerator: Array<{ files: string[] }> };
  for (const file of [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)]) {
    assert.ok(existsSync(`${K8S}/${file}`), `${file} exists`);
  }
  const manifests = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  return manifests.flatMap((file) =>
    parseAllDocuments(readFileSync(`${K8S}/${file}`, 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      return doc.toJS() as K8sObject;
    }),
  );
}

const objects = k8sObjects();
const pod = objects.find((o) => o.kind === 'Deployment')!.spec!.template;
const byName = (name: string): Container => [...pod.spec.initContainers, ...pod.spec.containers].find((c) => c.name === name)!;
const envOf = (c: Container): Map<string, string | undefined> => new Map((c.env ?? []).map((e) => [e.name, e.value]));
const mountFor = (c: Container, path: string): Mount | undefined => c.volumeMounts?.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
/** A path seen by one container, translated into another container's mount of the same volume. */
function acrossMount(from: Container, to: Container, path: string): string | undefined {
  const source = mountFor(from, path);
  const target = to.volumeMounts?.find((m) => m.name === source?.name);
  return source && target ? posix.join(target.mountPath, posix.relative(source.mountPath, path)) : undefined;
}

test('kubernetes: credproxy runs as a native sidecar with probes, resources and scrape annotations', () => {
  const credproxy = byName('credproxy');
  assert.equal(credproxy.restartPolicy, 'Always', 'native sidecar: starts before, and outlives, the sandbox');
  const admin = credproxy.ports!.find((p) => p.name === 'admin')!;
  assert.equal(admin.containerPort, 8081);
  assert.deepEqual(credproxy.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' }, 'alive: the admin listener answers');
  for (const probe of [credproxy.readinessProbe, credproxy.startupProbe]) {
    assert.deepEqual(probe?.httpGet, { path: '/readyz', port: 'admin' }, 'ready: proxy listeners and audit writer');
  }
  assert.ok(credproxy.resources?.requests?.cpu && credproxy.resources.requests.memory, 'requests set');
  assert.ok(credproxy.resources?.limits?.cpu && credproxy.resources.limits.memory, 'limits set');
  assert.equal(pod.metadata.annotations, undefined, 'no prometheus.io annotations: /metrics needs the key, a PodMonitor sends it');
  const env = envOf(credproxy);
  for (const name of env.keys()) assert.ok(CONFIG_VARS.has(name), `${name} is a credproxy config variable`);
  assert.equal(env.get('CREDPROXY_ADMIN_LISTEN'), '0.0.0.0:8081');
});

test("kubernetes monitoring: the PodMonitor scrapes this pod's admin port with the API key /metrics requires there", () => {
  const kustomization = parseYaml(readFileSync(`${K8S}/monitoring/kustomization.yaml`, 'utf8')) as { resources: string[] };
  const docs = kustomization.resources.map((file) => parseYaml(readFileSync(`${K8S}/monitoring/${file}`, 'utf8')) as { kind: string; spec: UntypedJson });
  assert.deepEqual(docs.map((d) => d.kind).sort(), ['PodMonitor', 'PrometheusRule']);
  const monitor = docs.find((d) => d.kind === 'PodMonitor')!.spec;
  for (const [label, value] of Object.entries(monitor.selector.matchLabels as Record<string, string>))
    assert.equal(pod.metadata.labels[label], value, `selects the pod by ${label}`);
  const [endpoint] = monitor.podMetricsEndpoints;
  assert.equal(endpoint.path, '/metrics');
  assert.ok(
    byName('credproxy').ports!.some((p) => p.name === endpoint.port),
    `port ${endpoint.port} is credproxy's`,
  );
  assert.equal(envOf(byName('credproxy')).get('CREDPROXY_METRICS_AUTH'), 'true', 'the sandbox shares the loopback: /metrics needs the key');
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, Object.keys(o.stringData ?? {})]));
  const { name, key } = endpoint.authorization.credentials as { name: string; key: string };
  assert.ok(secrets.get(name)?.includes(key), `${name}/${key} exists`);
  const apiKeyRef = byName('credproxy').env!.find((e) => e.name === 'CREDPROXY_API_KEY')!.valueFrom!.secretKeyRef!;
  assert.deepEqual({ name, key }, { name: apiKeyRef.name, key: apiKeyRef.key }, 'the same key credproxy checks');
});

test('kubernetes: every container is locked down and the sandbox sees neither keys nor state', () => {
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  assert.equal(pod.spec.automountServiceAccountToken, false);
  for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root filesystem`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${c.name}: drops all capabilities`);
    // The one exception: the short-lived step that installs the iptables rules (tested below).
    if (c.name === 'egress-rules') continue;
    assert.ok((c.securityContext?.runAsUser ?? 0) > 0, `${c.name}: non-root uid`);
    assert.equal(c.securityContext?.capabilities?.add, undefined, `${c.name}: adds no capability`);
  }
  const credproxy = byName('credproxy');
  const sandbox = byName('sandbox');
  const env = envOf(credproxy);
  const secretVolumes = new Set(pod.spec.volumes.filter((v) => v.secret).map((v) => v.name));
  const privateVolume = mountFor(credproxy, env.get('CREDPROXY_DATA_DIR')!)!.name;
  for (const mount of sandbox.volumeMounts ?? []) {
    assert.ok(!secretVolumes.has(mount.name) && mount.name !== privateVolume, `sandbox does not mount ${mount.name}`);
  }
  assert.equal(mountFor(credproxy, env.get('CREDPROXY_CA_KEY')!)?.name, privateVolume, 'the CA key stays in the private volume');
  assert.ok(!envOf(sandbox).has('CREDPROXY_API_KEY') && !envOf(sandbox).has('CREDPROXY_MASTER_KEY'));
});

test("kubernetes: transparent mode — rules first, for credproxy's own ports and uid; the sandbox has no proxy variable", () => {
  const rules = byName('egress-rules');
  const credproxy = byName('credproxy');
  const sandbox = byName('sandbox');
  assert.equal(pod.spec.initContainers[0]!.name, 'egress-rules', 'the rules are in place before anything else starts');
  assert.equal(rules.restartPolicy, undefined, 'an init step, not a sidecar');
  assert.deepEqual(rules.securityContext?.capabilities?.add, ['NET_ADMIN', 'NET_RAW']);
  const command = rules.command!;
  const flag = (name: string): string | undefined => command[command.indexOf(name) + 1];
  assert.deepEqual(command.slice(0, 4), ['node', 'bin/credproxy', 'iptables', '--apply']);
  assert.equal(Number(flag('--uid')), credproxy.securityContext?.runAsUser, "credproxy's own traffic is exempt");
  const env = envOf(credproxy);
  assert.equal(flag('--https-port'), env.get('CREDPROXY_TRANSPARENT_HTTPS')!.split(':')[1]);
  assert.equal(flag('--http-port'), env.get('CREDPROXY_TRANSPARENT_HTTP')!.split(':')[1]);
  assert.notEqual(sandbox.securityContext?.runAsUser, credproxy.securityContext?.runAsUser, 'the sandbox runs as another uid, so it is redirected');
  const fieldOf = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
  assert.equal(
    fieldOf(credproxy, 'CREDPROXY_TRANSPARENT_SANDBOX'),
    fieldOf(byName('register'), 'SANDBOX_NAME'),
    'the listener is bound to the sandbox register creates',
  );
  assert.equal(envOf(byName('register')).get('PROXY_ENV'), 'omit');
  for (const name of envOf(sandbox).keys()) assert.doesNotMatch(name, /_proxy$/i, `the sandbox sets no ${name}`);
  const store = mountFor(sandbox, '/etc/ssl/certs/ca-certificates.crt')!;
  assert.equal(store.mountPath, '/etc/ssl/certs/ca-certificates.crt');
  assert.equal(store.readOnly, true);
  assert.equal(
    posix.join(mountFor(credproxy, env.get('CREDPROXY_CA_CERT')!)!.mountPath, store.subPath!),
    env.get('CREDPROXY_CA_CERT'),
    "the system trust store is credproxy's CA",
  );
});

test('kubernetes: every secret reference resolves to a key of a Secret in the folder', () => {
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, Object.keys(o.stringData ?? {})]));
  assert.deepEqual(secrets.get('credproxy-admin')?.sort(), ['CREDPROXY_API_KEY', 'CREDPROXY_MASTER_KEY']);
  const refs = [...pod.spec.initContainers, ...pod.spec.containers].flatMap((c) =>
    (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
  );
  assert.ok(refs.length >= 3);
  for (const ref of refs) assert.ok(secrets.get(ref.name)?.includes(ref.key), `${ref.name}/${ref.key} exists`);
  const register = byName('register');
  const credentials = pod.spec.volumes.find((v) => v.name === register.volumeMounts?.find((m) => m.mountPath === envOf(register).get('SECRETS_DIR'))?.name);
  const bound = envOf(register)
    .get('SANDBOX_SECRETS')!
    .split(',')
    .map((pair) => pair.split('=')[1]!);
  for (const name of bound)
    assert.ok(secrets.get((credentials?.secret as { secretName: string }).secretName)?.includes(name), `credential file ${name} is provided`);
});

test('kubernetes: the sandbox trusts the CA credproxy writes, at the path credproxy hands out', () => {
  const credproxy = byName('credproxy');
  const sandbox = byName('sandbox');
  const env = envOf(credproxy);
  const caInSandbox = acrossMount(credproxy, sandbox, env.get('CREDPROXY_CA_CERT')!);
  assert.equal(caInSandbox, env.get('CREDPROXY_SANDBOX_CA_PATH'));
  assert.equal(mountFor(sandbox, caInSandbox!)?.readOnly, true, 'the sandbox mounts the CA read-only');
  const sandboxEnv = envOf(sandbox);
  for (const name of CA_TRUST_VARS) assert.equal(sandboxEnv.get(name), caInSandbox, `${name} points at the CA`);
  const register = byName('register');
  const envFile = acrossMount(register, sandbox, envOf(register).get('ENV_FILE')!);
  assert.ok(envFile, 'the register container writes the env file into a volume the sandbox mounts');
  assert.match(JSON.stringify(sandbox), new RegExp(`\\. ${envFile!.replaceAll('.', '\\.')}`), 'the sandbox sources it');
});

type ComposeVolume = string | { source: string; target: string; read_only?: boolean; volume?: { subpath?: string } };
interface ComposeService {
  environment?: Record<string, string>;
  volumes?: ComposeVolume[];
  networks?: string[];
  ports?: string[];
  network_mode?: string;
  command?: string[];
  user?: string;
  cap_add?: string[];
  depends_on?: Record<string, { condition: string }>;
}

test('compose: same variables, same layout, and the sandbox has no way out but credproxy', () => {
  const compose = parseYaml(readFileSync(COMPOSE, 'utf8')) as { services: Record<string, ComposeService>; networks: Record<string, { internal?: boolean }> };
  const { credproxy, sandbox, register, 'egress-rules': rules } = compose.services;
  assert.ok(credproxy && sandbox && register && rules);
  const env = credproxy.environment!;
  for (const name of Object.keys(env)) assert.ok(CONFIG_VARS.has(name), `${name} is a credproxy config variable`);
  const k8sEnv = [...envOf(byName('credproxy')).keys()].filter((n) => !n.endsWith('_LISTEN')).sort();
  assert.deepEqual(
    Object.keys(env)
      .filter((n) => n !== 'CREDPROXY_SANDBOX_PROXY_URL')
      .sort(),
    k8sEnv,
    'compose and kubernetes set the same variables',
  );
  for (const port of credproxy.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, 'published on loopback only');

  const mounts = (service: ComposeService): Array<{ name: string; path: string; ro: boolean; subpath?: string }> =>
    (service.volumes ?? []).map((v) => {
      if (typeof v !== 'string') return { name: v.source, path: v.target, ro: v.read_only === true, subpath: v.volume?.subpath };
      const [name = '', path = '', mode] = v.split(':');
      return { name, path, ro: mode === 'ro' };
    });
  const volumeAt = (service: ComposeService, path: string) => mounts(service).find((m) => path.startsWith(`${m.path}/`));
  const shared = volumeAt(credproxy, env.CREDPROXY_CA_CERT!)!;
  const inSandbox = mounts(sandbox).find((m) => m.name === shared.name && m.subpath === undefined)!;
  assert.ok(inSandbox.ro, 'the sandbox mounts the CA read-only');
  assert.equal(posix.join(inSandbox.path, posix.basename(env.CREDPROXY_CA_CERT!)), env.CREDPROXY_SANDBOX_CA_PATH);
  for (const name of CA_TRUST_VARS) assert.equal(sandbox.environment?.[name], env.CREDPROXY_SANDBOX_CA_PATH);
  assert.notEqual(volumeAt(credproxy, env.CREDPROXY_CA_KEY!)?.name, shared.name, 'the CA key is not on the shared volume');
  assert.ok(!mounts(sandbox).some((m) => m.name === volumeAt(credproxy, `${env.CREDPROXY_DATA_DIR}/x`)?.name), 'the sandbox does not mount the data volume');

  // Transparent mode: the sandbox lives in credproxy's network namespace, behind the rules.
  assert.equal(sandbox.network_mode, 'service:credproxy');
  assert.equal(rules.network_mode, 'service:credproxy');
  assert.deepEqual(rules.command!.slice(0, 2), ['iptables', '--apply']);
  assert.equal(rules.command![rules.command!.indexOf('--uid') + 1], '10001', "the image's uid: credproxy's own traffic is exempt");
  assert.equal(rules.command![rules.command!.indexOf('--https-port') + 1], env.CREDPROXY_TRANSPARENT_HTTPS!.split(':')[1]);
  assert.equal(rules.command![rules.command!.indexOf('--http-port') + 1], env.CREDPROXY_TRANSPARENT_HTTP!.split(':')[1]);
  assert.deepEqual(rules.cap_add, ['NET_ADMIN', 'NET_RAW']);
  assert.equal(sandbox.depends_on?.['egress-rules']?.condition, 'service_completed_successfully', 'the sandbox starts behind the rules');
  assert.notEqual(sandbox.user?.split(':')[0], '10001');
  assert.equal(env.CREDPROXY_TRANSPARENT_SANDBOX, register.environment?.SANDBOX_NAME);
  assert.equal(register.environment?.PROXY_ENV, 'omit');
  for (const name of Object.keys(sandbox.environment ?? {})) assert.doesNotMatch(name, /_proxy$/i, `the sandbox sets no ${name}`);
  const store = mounts(sandbox).find((m) => m.path === '/etc/ssl/certs/ca-certificates.crt')!;
  assert.deepEqual(
    [store.name, store.subpath, store.ro],
    [shared.name, posix.basename(env.CREDPROXY_CA_CERT!), true],
    "the system trust store is credproxy's CA",
  );
  assert.ok(
    credproxy.networks!.some((n) => !compose.networks[n]?.internal),
    'credproxy has a way out',
  );
  assert.ok(existsSync(join(dirname(COMPOSE), mounts(register).find((m) => m.path.endsWith('.mjs'))!.name)), 'the register script mount exists');
});

test('the register script stores secrets (rotating existing ones), creates the sandbox and writes a sourceable env file', async (t) => {
  const seen: Array<{ method: string; url: string; key: string | undefined; body: unknown }> = [];
  const env = { HTTPS_PROXY: 'http://sb:tok_en-1@127.0.0.1:8080', ANTHROPIC_API_KEY: 'sk-ant-api03-standin', ODD: "it's $HOME `x`" };
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    seen.push({ method: req.method!, url: req.url!, key: req.headers['x-api-key'] as string | undefined, body: JSON.parse(text) });
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'POST' && req.url === '/secrets') reply(409, { error: { code: 'conflict', message: 'exists' } });
    else if (req.method === 'PATCH' && req.url === '/secrets/anthropic') reply(200, { name: 'anthropic' });
    else if (req.method === 'POST' && req.url === '/sandboxes') reply(201, { id: 'sbx-1', env });
    else reply(404, { error: { code: 'not_found', message: 'no' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-register-'));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'anthropic'), 'sk-ant-real-value\n');
  const envFile = join(dir, 'sandbox.env');
  const { port } = server.address() as AddressInfo;
  const registerEnv = {
    PATH: process.env.PATH,
    CREDPROXY_URL: `http://127.0.0.1:${port}`,
    CREDPROXY_API_KEY: 'k'.repeat(32),
    SANDBOX_NAME: 'sb-test',
    SANDBOX_SECRETS: 'ANTHROPIC_API_KEY=anthropic',
    SECRETS_DIR: dir,
    ENV_FILE: envFile,
  };

  const { stdout } = await run(process.execPath, [`${K8S}/register-sandbox.mjs`], {
    timeout: 15_000,
    env: registerEnv,
  });
  assert.doesNotMatch(stdout, /sk-ant-real-value/);
  assert.deepEqual(
    seen.map((r) => `${r.method} ${r.url}`),
    ['POST /secrets', 'PATCH /secrets/anthropic', 'POST /sandboxes'],
  );
  assert.ok(seen.every((r) => r.key === 'k'.repeat(32)));
  assert.deepEqual(seen[0]!.body, { name: 'anthropic', value: 'sk-ant-real-value', provider: 'anthropic' });
  assert.deepEqual(seen[2]!.body, { name: 'sb-test', secrets: { ANTHROPIC_API_KEY: 'anthropic' } });
  const sourced = await run('sh', ['-c', `. '${envFile}' && printf '%s\\n' "$HTTPS_PROXY" "$ANTHROPIC_API_KEY" "$ODD"`], { timeout: 5_000 });
  assert.equal(sourced.stdout, `${env.HTTPS_PROXY}\n${env.ANTHROPIC_API_KEY}\n${env.ODD}\n`);

  // PROXY_ENV=omit (transparent mode): the same file without proxy variables.
  await run(process.execPath, [`${K8S}/register-sandbox.mjs`], {
    timeout: 15_000,
    env: { ...registerEnv, PROXY_ENV: 'omit' },
  });
  const transparent = readFileSync(envFile, 'utf8');
  assert.doesNotMatch(transparent, /PROXY/);
  assert.match(transparent, /^export ANTHROPIC_API_KEY='sk-ant-api03-standin'$/m);
});
