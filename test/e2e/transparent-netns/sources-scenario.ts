// Runs inside the network namespace that transparent-netns.test.ts creates, like scenario.ts, and
// prints one `RESULT {json}` line. Two sandboxes share one namespace and one daemon with no
// transparent.sandbox: each declared its own source address (127.0.0.4, 127.0.0.5) and its
// clients bind to it, so the kernel redirect delivers both to the same listener and the source
// address alone tells them apart. 127.0.0.6 is declared by nobody.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, startDaemon } from '../../helpers/harness/index.js';
import { createTestPki } from '../../helpers/pki.js';
import { startUpstream } from '../../helpers/upstream.js';
import { asNobody, BUNDLE, echoed, iptablesCli, printResult, rulesFlags } from './support.js';

const HOST = 'api.example.test';

const pki = await createTestPki('netns-sources-upstream');
const upstream = await startUpstream({ pki, host: '127.0.0.3' });
const d = await startDaemon({
  flags: {
    'transparent.https': '[::]:0',
    'transparent.http': '[::]:0',
    'upstream.caFile': pki.caPath,
    'upstream.resolve': [`${HOST}:443=127.0.0.3:${upstream.port}`],
  },
});
const result: Record<string, unknown> = {};
try {
  const sandboxes: Record<string, { id: string; env: Record<string, string> }> = {};
  for (const [name, address] of [
    ['a', '127.0.0.4'],
    ['b', '127.0.0.5'],
  ] as const) {
    await d.api('POST', '/secrets', { name: `secret-${name}`, value: `sk-real-netns-${name}-0123456789abcdef`, auth: { type: 'bearer' }, hosts: [HOST] });
    sandboxes[name] = (await d.api('POST', '/sandboxes', { name: `sandbox-${name}`, secrets: { KEY: `secret-${name}` }, source_addresses: [address] })).json;
  }
  copyFileSync(join(d.config.dataDir, 'ca-bundle.pem'), BUNDLE);
  result.apply = iptablesCli('--apply', ...rulesFlags(d.daemon.transparentHttpsAddress, d.daemon.transparentHttpAddress));

  /** curl from `source` with `sandbox`'s stand-in; headers and body of the answer. */
  const curl = (source: string, sandbox: string, path: string) =>
    asNobody('curl', [
      '-sS',
      '--max-time',
      '10',
      '--interface',
      source,
      '-D',
      '-',
      '-H',
      `Authorization: Bearer ${sandboxes[sandbox]!.env.KEY}`,
      `https://${HOST}${path}`,
    ]);
  result.curlA = await curl('127.0.0.4', 'a', '/sources/curl-a');
  result.curlB = await curl('127.0.0.5', 'b', '/sources/curl-b');
  result.crossAtoB = await curl('127.0.0.4', 'b', '/sources/cross-a');
  result.crossBtoA = await curl('127.0.0.5', 'a', '/sources/cross-b');
  result.unknown = await curl('127.0.0.6', 'a', '/sources/unknown');
  result.nodeB = echoed(
    await asNobody(
      process.execPath,
      [
        '-e',
        `require('https').get('https://${HOST}/sources/node-b', {
    localAddress: '127.0.0.5', headers: { authorization: 'Bearer ${sandboxes.b!.env.KEY}' },
  }, (res) => { let t = ''; res.on('data', (c) => (t += c)).on('end', () => console.log(t)); }).on('error', (e) => console.log(String(e)))`,
      ],
      { NODE_EXTRA_CA_CERTS: BUNDLE },
    ),
  );

  result.upstreamSaw = upstream.seen.map((e) => ({ url: e.url, authorization: e.headers.authorization }));
  result.standIns = { a: sandboxes.a!.env.KEY, b: sandboxes.b!.env.KEY };
  result.network = {};
  for (const name of ['a', 'b']) {
    (result.network as Record<string, unknown>)[name] = await eventually(`sandbox ${name}'s rows`, async () => {
      const rows = (await d.api('GET', `/sandboxes/${sandboxes[name]!.id}/network?limit=100`)).json.data as Array<Record<string, unknown>>;
      return rows.filter((r) => r.kind === 'request').length >= (name === 'a' ? 2 : 3) ? rows : undefined;
    });
  }
  result.remove = iptablesCli('--remove', '--uid', '0');
} finally {
  await d.close();
  await upstream.close();
  await pki.remove();
}
printResult(result);
