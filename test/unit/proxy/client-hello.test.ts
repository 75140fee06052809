import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { MAX_HELLO_RECORD, peekServerName } from '../../../src/proxy/client-hello.js';

/** The first bytes Node's own TLS client sends, captured without a socket. */
function clientHello(servername: string | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        resolve(chunk);
        done();
      },
    });
    const tls = connect({ socket: wire, ...(servername === undefined ? {} : { servername }) });
    tls.on('error', () => undefined);
    setTimeout(() => tls.destroy(), 50);
  });
}

test('peekServerName reads SNI from a real ClientHello, and none when the client sent none', async () => {
  assert.deepEqual(peekServerName(await clientHello('API.Example.test')), { kind: 'hello', serverName: 'api.example.test' });
  assert.deepEqual(peekServerName(await clientHello(undefined)), { kind: 'hello', serverName: undefined });
});

test('peekServerName waits for the whole first record, and knows what is not TLS', async () => {
  const hello = await clientHello('api.example.test');
  for (const cut of [0, 1, 4, 5, 40, hello.length - 1]) assert.deepEqual(peekServerName(hello.subarray(0, cut)), { kind: 'partial' }, `cut at ${cut}`);
  assert.deepEqual(peekServerName(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
  const oversized = Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]);
  assert.ok(MAX_HELLO_RECORD < 5 + 0xffff);
  assert.deepEqual(peekServerName(oversized), { kind: 'not-tls' }, 'a record longer than TLS allows is not a ClientHello');
});

test('peekServerName: a name that is not a host name counts as none; truncated fields never throw', async () => {
  const hello = await clientHello('api.example.test');
  const bad = Buffer.from(hello);
  bad.write('api/example.test', bad.indexOf('api.example.test'), 'latin1');
  assert.deepEqual(peekServerName(bad), { kind: 'hello', serverName: undefined });
  for (let length = 6; length < hello.length; length += 7) {
    const short = Buffer.from(hello.subarray(0, length));
    short.writeUInt16BE(length - 5, 3);
    assert.doesNotThrow(() => peekServerName(short));
  }
});
