/**
 * Leaf-certificate cost, ECDSA P-256 vs RSA-2048: key generation, minting (build + sign +
 * SecureContext), event-loop blocking while minting, TLS handshake time, and first-use vs cached
 * LeafCertStore lookups. Bounded (a few hundred operations per row, ~10 s); not part of npm test.
 *
 *   node --import tsx bench/cert-mint.ts
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { TLSSocket, connect, createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { LeafCertStore, loadOrCreateCa } from '../src/tls/index.js';
import { buildCertificate, describeIssuer, describeSubjectKey, keyIdentifierExtensions, type IssuerInfo, type SubjectKey } from '../src/tls/x509.js';

const MINTS = 200;
const HANDSHAKES = 200;
const FORGE_SIGNS = 20;
const CACHED_LOOKUPS = 100_000;

const generateKeyPairAsync = promisify(generateKeyPair);
const rows: Array<[string, string, string]> = [];
const fmt = (n: number, digits = 2) => n.toFixed(digits);
type Kind = 'ECDSA P-256' | 'RSA-2048';
const keyParams = { 'ECDSA P-256': ['ec', { namedCurve: 'prime256v1' }], 'RSA-2048': ['rsa', { modulusLength: 2048 }] } as const;

async function newKey(kind: Kind): Promise<KeyObject> {
  const [type, options] = keyParams[kind];
  return (await generateKeyPairAsync(type as 'ec', options as { namedCurve: string })).privateKey;
}

interface Issuer {
  caPem: string;
  caKey: KeyObject;
}

async function selfSignedCa(kind: Kind): Promise<Issuer> {
  const caKey = await newKey(kind);
  const subjectKey = describeSubjectKey(caKey);
  const caPem = await buildCertificate({
    subject: [{ shortName: 'CN', value: `bench ${kind}` }],
    subjectKey,
    signingKey: caKey,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', critical: true, cA: true },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
      ...keyIdentifierExtensions(subjectKey, subjectKey.keyIdentifier),
    ],
  });
  return { caPem, caKey };
}

interface Minter {
  issuer: Issuer;
  info: IssuerInfo;
  leafKey: SubjectKey;
  leafKeyPem: string;
}

async function newMinter(kind: Kind): Promise<Minter> {
  const issuer = await selfSignedCa(kind);
  const key = await newKey(kind);
  return {
    issuer,
    info: describeIssuer(issuer.caPem),
    leafKey: describeSubjectKey(key),
    leafKeyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

interface SyncTimes {
  wall: number[];
  cpu: number[];
}
/**
 * Synchronous sections of each mint: forge's ASN.1 work (until the async signature) and
 * createSecureContext. CPU time is what blocks the loop on an idle core; wall time adds any
 * preemption by other processes, so on a busy machine both are shown.
 */
const syncTimes = { forge: { wall: [], cpu: [] } as SyncTimes, secureContext: { wall: [], cpu: [] } as SyncTimes };

function timedSync<T>(into: SyncTimes, fn: () => T): T {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = fn();
  into.wall.push(performance.now() - start);
  const used = process.cpuUsage(cpu);
  into.cpu.push((used.user + used.system) / 1000);
  return result;
}

/** The same steps LeafCertStore takes per host, for either key type, timing the synchronous parts. */
async function mintLeaf(m: Minter, name: string): Promise<SecureContext> {
  const pem = await timedSync(syncTimes.forge, () =>
    buildCertificate({
      subject: [{ shortName: 'CN', value: name }],
      issuer: m.info,
      subjectKey: m.leafKey,
      signingKey: m.issuer.caKey,
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 30 * 86_400_000),
      extensions: [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: name }] },
        ...keyIdentifierExtensions(m.leafKey, m.info.keyIdentifier),
      ],
    }),
  );
  return timedSync(syncTimes.secureContext, () => createSecureContext({ cert: pem + m.issuer.caPem, key: m.leafKeyPem }));
}

/** Runs `fn` while sampling event-loop delay at 1 ms resolution; returns its wall time and the worst stall. */
async function measured(fn: () => Promise<void>): Promise<{ ms: number; maxDelayMs: number; p99DelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  histogram.disable();
  // The histogram includes the 1 ms sampling interval itself.
  return { ms, maxDelayMs: Math.max(0, histogram.max / 1e6 - 1), p99DelayMs: Math.max(0, histogram.percentile(99) / 1e6 - 1) };
}

/** Wall and CPU (client + server, same process) time per full handshake, no session resumption. */
async function handshakeCost(context: SecureContext, caPem: string, name: string): Promise<{ wallMs: number; cpuMs: number }> {
  const server = createServer((socket) => {
    const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
    tls.on('secure', () => tls.end());
    tls.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // One client context for all connections, so its setup is not counted per handshake.
  const clientContext = createSecureContext({ ca: caPem });
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < HANDSHAKES; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: name, secureContext: clientContext });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  }
  const wallMs = (performance.now() - start) / HANDSHAKES;
  const used = process.cpuUsage(cpu);
  await new Promise((resolve) => server.close(resolve));
  return { wallMs, cpuMs: (used.user + used.system) / 1000 / HANDSHAKES };
}

function spread(xs: number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [mean, sorted[Math.floor(sorted.length * 0.99)]!, sorted.at(-1)!].map((n) => fmt(n, 3)).join(' / ');
}

for (const kind of ['ECDSA P-256', 'RSA-2048'] as const) {
  let keyMs = 0;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await newKey(kind);
    keyMs += (performance.now() - t) / 5;
  }
  const minter = await newMinter(kind);
  for (const times of Object.values(syncTimes)) {
    times.wall.length = 0;
    times.cpu.length = 0;
  }
  let last: SecureContext | undefined;
  const run = await measured(async () => {
    for (let i = 0; i < MINTS; i++) last = await mintLeaf(minter, `h${i}.bench.test`);
  });
  const hs = await handshakeCost(last!, minter.issuer.caPem, `h${MINTS - 1}.bench.test`);
  rows.push([kind, 'key generation (async, ms)', fmt(keyMs)]);
  rows.push([kind, `mint per cert, ${MINTS} sequential (ms)`, fmt(run.ms / MINTS, 3)]);
  for (const [label, times] of [
    ['forge ASN.1 part', syncTimes.forge],
    ['createSecureContext', syncTimes.secureContext],
  ] as const) {
    rows.push([kind, `sync ${label}: CPU mean / p99 / max (ms)`, spread(times.cpu)]);
    rows.push([kind, `sync ${label}: wall mean / p99 / max (ms)`, spread(times.wall)]);
  }
  rows.push([kind, 'event-loop delay while minting, max / p99 (ms)', `${fmt(run.maxDelayMs)} / ${fmt(run.p99DelayMs)}`]);
  rows.push([kind, `TLS handshake x${HANDSHAKES}, wall / CPU per handshake (ms)`, `${fmt(hs.wallMs, 3)} / ${fmt(hs.cpuMs, 3)}`]);
}

{
  // Reference: forge's own pure-JS RSA signing, which this module avoids.
  const rsa = await newKey('RSA-2048');
  const forgeKey = forge.pki.privateKeyFromPem(rsa.export({ type: 'pkcs1', format: 'pem' }) as string);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = '01';
  const t = performance.now();
  for (let i = 0; i < FORGE_SIGNS; i++) cert.sign(forgeKey, forge.md.sha256.create());
  rows.push(['RSA-2048', 'forge pure-JS sign per cert (blocks the loop, ms)', fmt((performance.now() - t) / FORGE_SIGNS)]);
}

const dir = await mkdtemp(join(tmpdir(), 'credproxy-bench-'));
try {
  const ca = await loadOrCreateCa({ certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') });
  const store = await LeafCertStore.create(ca, { maxHosts: MINTS });
  const run = await measured(async () => {
    for (let i = 0; i < MINTS; i++) await store.secureContextFor(`s${i}.bench.test`);
  });
  let t = performance.now();
  for (let i = 0; i < CACHED_LOOKUPS; i++) store.secureContextFor(`s${i % MINTS}.bench.test`);
  const cachedUs = ((performance.now() - t) / CACHED_LOOKUPS) * 1000;
  t = performance.now();
  await store.secureContextFor('first-use.bench.test');
  const firstMs = performance.now() - t;
  rows.push(['LeafCertStore', `first use, ${MINTS} hosts (ms per host)`, fmt(run.ms / MINTS, 3)]);
  rows.push(['LeafCertStore', 'event-loop delay while minting, max / p99 (ms)', `${fmt(run.maxDelayMs)} / ${fmt(run.p99DelayMs)}`]);
  rows.push(['LeafCertStore', 'one more first use (ms)', fmt(firstMs, 3)]);
  rows.push(['LeafCertStore', `cached lookup, sync (µs, mean of ${CACHED_LOOKUPS})`, fmt(cachedUs, 3)]);
} finally {
  await rm(dir, { recursive: true, force: true });
}

const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
