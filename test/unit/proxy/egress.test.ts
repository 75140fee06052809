import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EgressGuard, parseResolveEntry } from '../../../src/proxy/egress.js';

const lookupOf = (table: Record<string, string[]>) => async (host: string) => {
  const answers = table[host];
  if (!answers) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return answers.map((address) => ({ address }));
};

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

test('parseResolveEntry reads curl --resolve entries, case-insensitively', () => {
  assert.deepEqual(parseResolveEntry('API.Example.test:443=127.0.0.1:8443'), { host: 'api.example.test', port: 443, ip: '127.0.0.1', targetPort: 8443 });
  assert.deepEqual(parseResolveEntry('h:80=[::1]:8080'), { host: 'h', port: 80, ip: '::1', targetPort: 8080 });
});

test('public answers pass; any internal answer is denied unless allowPrivateNetworks', async () => {
  const lookup = lookupOf({ 'pub.test': ['93.184.216.34'], 'mixed.test': ['93.184.216.34', '10.0.0.5'], 'meta.test': ['169.254.169.254'] });
  const guard = new EgressGuard({ overrides: [], allowPrivateNetworks: false, protectedAddresses: () => [], lookup });
  assert.deepEqual(await guard.check('pub.test', 443), { ip: '93.184.216.34', port: 443, reason: 'public 93.184.216.34' });
  assert.equal(await code(guard.check('mixed.test', 443)), 'internal_address_denied');
  assert.equal(await code(guard.check('meta.test', 80)), 'internal_address_denied');
  assert.equal(await code(guard.check('10.1.1.1', 443)), 'internal_address_denied');
  assert.equal(await code(guard.check('missing.test', 443)), 'upstream_unreachable');
  const open = new EgressGuard({ overrides: [], allowPrivateNetworks: true, protectedAddresses: () => [], lookup });
  assert.equal((await open.check('mixed.test', 443)).ip, '93.184.216.34');
});

test('resolve entries are operator-approved and skip DNS; protected listeners never pass', async () => {
  const lookup = async () => {
    throw new Error('DNS must not be used');
  };
  const guard = new EgressGuard({
    overrides: ['Api.Example.test:443=10.0.0.9:8443', 'admin.test:443=127.0.0.1:8081', '*:8443=192.168.0.2:1'],
    allowPrivateNetworks: false,
    protectedAddresses: () => [
      { address: '0.0.0.0', port: 8081 },
      { address: '::', port: 9000 },
    ],
    lookup,
  });
  assert.deepEqual(await guard.check('API.example.test', 443), { ip: '10.0.0.9', port: 8443, reason: 'resolve Api.Example.test:443=10.0.0.9:8443' });
  assert.equal((await guard.check('anything.test', 8443)).ip, '192.168.0.2');
  assert.equal(await code(guard.check('admin.test', 443)), 'internal_address_denied');
  const allowAll = new EgressGuard({ overrides: [], allowPrivateNetworks: true, protectedAddresses: () => [{ address: '127.0.0.1', port: 8081 }], lookup });
  assert.equal(await code(allowAll.check('127.0.0.1', 8081)), 'internal_address_denied');
  assert.equal(await code(allowAll.check('::ffff:127.0.0.1', 8081)), 'internal_address_denied');
  assert.equal((await allowAll.check('127.0.0.1', 8082)).ip, '127.0.0.1');
  const wildcard = new EgressGuard({ overrides: [], allowPrivateNetworks: true, protectedAddresses: () => [{ address: '::', port: 9000 }], lookup });
  assert.equal(await code(wildcard.check('::1', 9000)), 'internal_address_denied');
  assert.equal(await code(wildcard.check('127.0.0.2', 9000)), 'internal_address_denied');
});

test('numeric spellings of internal addresses are classified as the address they stand for', async () => {
  const lookup = async () => {
    throw new Error('DNS must not be used');
  };
  const guard = new EgressGuard({ overrides: [], allowPrivateNetworks: false, protectedAddresses: () => [], lookup });
  for (const spelling of ['2130706433', '0x7f000001', '127.1', '017700000001', '0xa9fea9fe', '[::ffff:10.0.0.1]', '167772161']) {
    assert.equal(await code(guard.check(spelling, 443)), 'internal_address_denied', spelling);
  }
  assert.equal(await code(guard.check('1.2.3.4.5', 443)), 'upstream_unreachable', 'ends in a number, is no address: never resolved');
});

test('the unspecified address is refused in every spelling, even with allowPrivateNetworks or a resolve entry', async () => {
  const lookup = async (host: string) => (host === 'zero.test' ? [{ address: '0.0.0.0' }] : []);
  const guard = new EgressGuard({
    overrides: ['to-zero.test:443=0.0.0.0:443'],
    allowPrivateNetworks: true,
    protectedAddresses: () => [],
    lookup,
  });
  for (const spelling of ['0.0.0.0', '0', '::', '[::]', '[::ffff:0.0.0.0]', '0:0:0:0:0:0:0:0', '0x0', '0.0.0.0.', 'zero.test', 'to-zero.test']) {
    assert.equal(await code(guard.check(spelling, 443)), 'internal_address_denied', spelling);
  }
});

test('a protected listener is refused by its port on every local address, whatever it is bound to', async () => {
  const lookup = async (host: string) => (host === 'local.test' ? [{ address: '127.0.0.53' }] : []);
  for (const bound of ['127.0.0.1', '0.0.0.0', '::', '::1']) {
    const guard = new EgressGuard({
      overrides: ['via-resolve.test:443=127.0.0.9:8081'],
      allowPrivateNetworks: true,
      protectedAddresses: () => [{ address: bound, port: 8081 }],
      lookup,
    });
    for (const target of ['127.0.0.1', '127.0.0.2', '127.1', '2130706433', '::1', '[::ffff:127.0.0.1]', 'local.test']) {
      assert.equal(await code(guard.check(target, 8081)), 'internal_address_denied', `${target} → listener on ${bound}`);
    }
    assert.equal(await code(guard.check('via-resolve.test', 443)), 'internal_address_denied', `resolve entry → listener on ${bound}`);
    assert.equal((await guard.check('127.0.0.2', 8082)).ip, '127.0.0.2', 'other ports stay reachable with allowPrivateNetworks');
  }
});
