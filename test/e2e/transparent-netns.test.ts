// Transparent mode end to end, with the kernel doing the redirect: a network namespace with only
// loopback, `credproxy iptables --apply` inside it, and real clients (curl, Node fetch, Python
// requests) that have no proxy variables at all; then two sandboxes in one namespace told apart by
// source address. The work happens in transparent-netns/*scenario.ts, run inside a namespace of
// its own; this file makes and removes the namespaces and checks what they saw.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { netnsUnavailable, runNetnsScenario } from '../helpers/netns.js';

const SCENARIO_TIMEOUT_MS = 90_000;
const unavailable = netnsUnavailable();

interface Echo {
  url: string;
  headers: Record<string, string>;
}

const runScenario = (t: TestContext, hosts: readonly string[], scenario: string) => runNetnsScenario(t, hosts, scenario, { timeoutMs: SCENARIO_TIMEOUT_MS });

test(
  'transparent mode in a network namespace: every client is swapped, refusals are readable, nothing gets around',
  { skip: unavailable, timeout: SCENARIO_TIMEOUT_MS + 10_000 },
  async (t) => {
    const r = await runScenario(t, ['127.0.0.3 api.example.test evil.test', '::1 v6.example.test'], 'test/e2e/transparent-netns/scenario.ts');
    const real = 'Bearer sk-real-netns-0123456789abcdef0123';

    assert.equal(r.directBefore.stdout.trim(), 'connected', 'before the rules, the upstream port is open to the sandbox uid');
    assert.equal(r.apply.code, 0, r.apply.stderr);
    assert.equal(r.applyAgain.code, 0, r.applyAgain.stderr);

    // The swap: each client sent the stand-in to the real host name; the upstream got the real value.
    for (const client of ['curl', 'node', 'python', 'ipv6'] as const) {
      const echo = r[client] as Echo;
      assert.ok(echo.url, `${client} reached the upstream: ${JSON.stringify(echo)}`);
      assert.equal(echo.headers.authorization, `Bearer ${r.standIn}`, `${client}: the echo came back with the stand-in, not the real value`);
    }
    const saw = new Map((r.upstreamSaw as Array<{ url: string; authorization: string }>).map((e) => [e.url, e.authorization]));
    for (const path of ['/netns/curl', '/netns/node', '/netns/python', '/netns/v6']) assert.equal(saw.get(path), real, `${path} arrived with the real value`);
    assert.deepEqual(r.plainSaw, ['/netns/plain'], 'plain http reached the upstream named by Host');

    // Refusals are answered inside TLS, with the reason.
    assert.match(r.refused.stdout, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: credential_host_mismatch/);
    assert.ok(!saw.has('/netns/evil'), 'nothing went to the host the secret does not allow');
    assert.match(r.noSni.stdout, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: internal_address_denied/, 'no SNI: the original destination IP is the host');

    // Nothing gets around: a direct dial and UDP are refused for the sandbox, while credproxy's uid gets through.
    assert.equal(r.direct.stdout.trim(), 'ECONNREFUSED', 'a direct dial around the proxy fails');
    assert.match(r.udp.stdout, /EPERM|ECONNREFUSED/, 'UDP out is refused');
    assert.equal(r.rootDirect, 'connected', "credproxy's own uid still reaches the upstream");
    const status = JSON.parse(r.status.stdout) as { ipv4: { installed: boolean; tcp: number; udp: number } };
    assert.equal(status.ipv4.installed, true);
    assert.ok(status.ipv4.tcp >= 1 && status.ipv4.udp >= 1, `blocked attempts are counted: ${r.status.stdout}`);

    // The connection rows carry the original destination.
    const rows = r.network as Array<Record<string, unknown>>;
    const api = rows.find((e) => e.kind === 'connection' && e.host === 'api.example.test' && e.dst_port === 443)!;
    assert.equal(api.dst_ip, '127.0.0.3');
    assert.equal(api.verdict, 'allowed');
    assert.ok(
      rows.some((e) => e.kind === 'connection' && e.host === 'v6.example.test' && e.dst_ip === '::1'),
      'IPv6 original destination',
    );

    assert.equal(r.remove.code, 0, r.remove.stderr);
    assert.equal(r.ruleCountAfter, 0, '--remove leaves no credproxy rule behind');
    assert.ok(r.ruleCount > 0);
  },
);

test(
  "two sandboxes in one namespace, told apart by source address: each gets its own swap and not the other's stand-ins",
  { skip: unavailable, timeout: SCENARIO_TIMEOUT_MS + 10_000 },
  async (t) => {
    const r = await runScenario(t, ['127.0.0.3 api.example.test'], 'test/e2e/transparent-netns/sources-scenario.ts');
    assert.equal(r.apply.code, 0, r.apply.stderr);
    const saw = new Map((r.upstreamSaw as Array<{ url: string; authorization: string }>).map((e) => [e.url, e.authorization]));
    assert.match(r.curlA.stdout, /^HTTP\/1\.1 200 /, r.curlA.stdout + r.curlA.stderr);
    assert.equal(saw.get('/sources/curl-a'), 'Bearer sk-real-netns-a-0123456789abcdef');
    assert.match(r.curlB.stdout, /^HTTP\/1\.1 200 /, r.curlB.stdout + r.curlB.stderr);
    assert.equal(saw.get('/sources/curl-b'), 'Bearer sk-real-netns-b-0123456789abcdef');
    assert.equal(r.nodeB.headers?.authorization, `Bearer ${r.standIns.b}`, `node reached the upstream as b: ${JSON.stringify(r.nodeB)}`);
    assert.equal(saw.get('/sources/node-b'), 'Bearer sk-real-netns-b-0123456789abcdef');

    for (const cross of [r.crossAtoB, r.crossBtoA]) assert.match(cross.stdout, /^HTTP\/1\.1 403 [^]*X-Credproxy-Reason: stand_in_wrong_sandbox/);
    assert.match(r.unknown.stdout, /^HTTP\/1\.1 407 [^]*X-Credproxy-Reason: proxy_auth_required[^]*source address 127\.0\.0\.6/);
    for (const path of ['/sources/cross-a', '/sources/cross-b', '/sources/unknown']) assert.ok(!saw.has(path), `${path} was not forwarded`);

    const paths = (rows: Array<Record<string, unknown>>) =>
      rows
        .filter((e) => e.kind === 'request')
        .map((e) => e.path)
        .sort();
    assert.deepEqual(paths(r.network.a), ['/sources/cross-a', '/sources/curl-a'], "a's log holds what came from 127.0.0.4");
    assert.deepEqual(paths(r.network.b), ['/sources/cross-b', '/sources/curl-b', '/sources/node-b']);
    assert.equal(r.remove.code, 0, r.remove.stderr);
  },
);
