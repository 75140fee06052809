import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rawExchange } from '../helpers/clients.js';
import { startWorld, type World } from '../helpers/harness/index.js';

/**
 * Issue #13 items 7 and 9, through the real daemon with `egress.allowPrivateNetworks=true` (the
 * setting that lets loopback through): the unspecified address in every spelling and the
 * daemon's own ports on any local address are refused, and numeric IPv4 spellings are decided by
 * `deny_out` as the address they stand for, for CONNECT and plain http alike. Every target below
 * is refused before a dial or is on loopback.
 */
let world: World;
let adminPort: number;
let proxyPort: number;
let denyLoopback: { access_token: string };

const basic = (token: string): string => `Proxy-Authorization: Basic ${Buffer.from(`sb:${token}`).toString('base64')}\r\n`;

before(async () => {
  world = await startWorld({ flags: { 'egress.allowPrivateNetworks': true, 'log.level': 'warn' } });
  adminPort = Number(world.daemon.daemon.adminAddress.split(':').at(-1));
  proxyPort = Number(world.daemon.daemon.proxyAddress.split(':').at(-1));
  denyLoopback = (await world.daemon.api('POST', '/sandboxes', { name: 'no-loopback', network: { deny_out: ['127.0.0.0/8'] } })).json;
});

after(() => world.close());

/** The proxy's answer (status line and reason) to a CONNECT or an absolute-URI GET. */
async function answer(requestLine: string, token: string): Promise<{ status: number; reason: string | undefined }> {
  const { text } = await rawExchange(proxyPort, `${requestLine}\r\nHost: x\r\nConnection: close\r\n${basic(token)}\r\n`);
  return { status: Number(text.slice(9, 12)), reason: /x-credproxy-reason: (\S+)/i.exec(text)?.[1] };
}

test("the unspecified address, in every spelling, never reaches the daemon's own listeners", async () => {
  const open = (await world.daemon.api('POST', '/sandboxes', { name: 'open' })).json;
  for (const port of [adminPort, proxyPort]) {
    for (const host of ['0.0.0.0', '[::]', '[::ffff:0.0.0.0]', '0', '0x0', '[0:0:0:0:0:0:0:0]']) {
      assert.deepEqual(
        await answer(`CONNECT ${host}:${port} HTTP/1.1`, open.access_token),
        { status: 403, reason: 'internal_address_denied' },
        `CONNECT ${host}:${port}`,
      );
    }
    assert.deepEqual(
      await answer(`GET http://0:${port}/metrics HTTP/1.1`, open.access_token),
      { status: 403, reason: 'internal_address_denied' },
      `GET http://0:${port}`,
    );
  }
});

test("the daemon's own ports are refused on every local address and spelling", async () => {
  const open = (await world.daemon.api('POST', '/sandboxes', { name: 'open-2' })).json;
  for (const host of ['127.0.0.1', '127.0.0.2', '127.1', '2130706433', '0x7f000001', '017700000001', '[::ffff:127.0.0.1]', 'localhost']) {
    for (const port of [adminPort, proxyPort]) {
      assert.deepEqual(
        await answer(`CONNECT ${host}:${port} HTTP/1.1`, open.access_token),
        { status: 403, reason: 'internal_address_denied' },
        `CONNECT ${host}:${port}`,
      );
    }
    assert.deepEqual(
      await answer(`GET http://${host}:${adminPort}/metrics HTTP/1.1`, open.access_token),
      { status: 403, reason: 'internal_address_denied' },
      `GET http://${host}:${adminPort}`,
    );
  }
});

test('numeric spellings are decided by deny_out as the address they stand for (CONNECT and plain http)', async () => {
  const port = world.upstream.port;
  for (const host of ['2130706433', '0x7f000001', '127.1', '017700000001', '[::ffff:127.0.0.1]', '127.0.0.1']) {
    assert.deepEqual(await answer(`CONNECT ${host}:${port} HTTP/1.1`, denyLoopback.access_token), { status: 403, reason: 'host_denied' }, `CONNECT ${host}`);
    assert.deepEqual(
      await answer(`GET http://${host}:${world.plainUpstream.port}/ HTTP/1.1`, denyLoopback.access_token),
      { status: 403, reason: 'host_denied' },
      `GET http://${host}`,
    );
  }
  // The same spelling from a sandbox without the rule reaches the loopback upstream (allowPrivateNetworks).
  const open = (await world.daemon.api('POST', '/sandboxes', { name: 'open-3' })).json;
  assert.equal((await answer(`GET http://2130706433:${world.plainUpstream.port}/ HTTP/1.1`, open.access_token)).status, 200);
});
