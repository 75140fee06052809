import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockedCounts, egressRules, resolversOf, rulesScript } from '../../../src/cli/iptables-rules.js';

const OPTIONS = { uid: 10001, httpsPort: 15443, httpPort: 15080, resolvers: ['10.96.0.10', 'fd00::a'], loopback: ['127.0.0.0/8', '::1/128'] };

test("egressRules: credproxy's uid first, then local destinations, then the redirects", () => {
  const [v4, v6] = egressRules(OPTIONS);
  const nat = v4!.restore.split('\n').filter((l) => l.startsWith('-A CREDPROXY_REDIRECT'));
  assert.deepEqual(nat, [
    '-A CREDPROXY_REDIRECT -m owner --uid-owner 10001 -j RETURN',
    '-A CREDPROXY_REDIRECT -d 127.0.0.0/8 -j RETURN',
    '-A CREDPROXY_REDIRECT -p tcp --dport 443 -j REDIRECT --to-ports 15443',
    '-A CREDPROXY_REDIRECT -p tcp --dport 80 -j REDIRECT --to-ports 15080',
  ]);
  assert.ok(v6!.restore.includes('-d ::1/128 -j RETURN') && !v6!.restore.includes('127.0.0.0/8'), 'each family gets its own addresses');
  assert.ok(v6!.restore.includes('-d fd00::a -p udp --dport 53') && !v6!.restore.includes('10.96.0.10'));
  const filter = v4!.restore.split('\n').filter((l) => l.startsWith('-A CREDPROXY_EGRESS'));
  assert.equal(filter.at(-2), '-A CREDPROXY_EGRESS -p tcp -j REJECT --reject-with tcp-reset');
  assert.equal(filter.at(-1), '-A CREDPROXY_EGRESS -p udp -j REJECT --reject-with icmp-port-unreachable');
  assert.ok(filter.indexOf('-A CREDPROXY_EGRESS -m owner --uid-owner 10001 -j RETURN') < filter.length - 2);
});

test('egressRules: without transparent.http, port 80 is not redirected (so it is refused)', () => {
  const [v4] = egressRules({ ...OPTIONS, httpPort: undefined });
  assert.ok(!v4!.restore.includes('--dport 80'));
  assert.ok(v4!.restore.includes('--dports 15443 '));
});

test('rulesScript: idempotent shell, one restore per family, jumps inserted only when missing', () => {
  const script = rulesScript(egressRules(OPTIONS), 'header');
  assert.match(script, /^#!\/bin\/sh\n# header\nset -e\niptables-restore --noflush <<'EOF'\n\*nat\n/);
  assert.match(script, /iptables -t nat -C OUTPUT -j CREDPROXY_REDIRECT 2>\/dev\/null \|\| iptables -t nat -I OUTPUT 1 -j CREDPROXY_REDIRECT/);
  assert.match(script, /ip6tables-restore --noflush/);
});

test('blockedCounts reads REJECT counters, named or numbered protocols', () => {
  const listing = [
    'Chain CREDPROXY_EGRESS (1 references)',
    '    pkts      bytes target     prot opt in     out     source               destination',
    '       4      240 RETURN     0    --  *      *       0.0.0.0/0            0.0.0.0/0            owner UID match 0',
    '       3      180 REJECT     6    --  *      *       0.0.0.0/0            0.0.0.0/0            reject-with tcp-reset',
    '       2       58 REJECT     udp  --  *      *       0.0.0.0/0            0.0.0.0/0            reject-with icmp-port-unreachable',
  ].join('\n');
  assert.deepEqual(blockedCounts(listing), { tcp: 3, udp: 2 });
});

test('resolversOf reads nameserver lines and drops zone ids and junk', () => {
  assert.deepEqual(resolversOf('# c\nnameserver 10.96.0.10\nsearch x\nnameserver fe80::1%eth0\nnameserver bogus\n'), ['10.96.0.10', 'fe80::1']);
});
