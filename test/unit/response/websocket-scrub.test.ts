import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { relayScrubbedFrames } from '../../../src/response/index.js';
import { Receiver, Sender } from '../../../src/response/ws-frames.js';

// The WebSocket scrub stage on in-memory streams: frames the upstream sends, what the client gets.

const REAL = 'sk-real-0123456789abcdef';
const STAND_IN = 'sk-stand-in-0123456789ab';
const scrub = (payload: Buffer) => Buffer.from(payload.toString('utf8').replaceAll(REAL, STAND_IN), 'utf8');

function frame(opcode: number, payload: string | Buffer, fin = true, mask = false): Buffer {
  return Buffer.concat(Sender.frame(Buffer.from(payload), { fin, opcode, mask, readOnly: false, rsv1: false }));
}

function relay() {
  const upstream = new PassThrough();
  const client = new PassThrough();
  relayScrubbedFrames(upstream, client, scrub, 1 << 20);
  const seen: string[] = [];
  const reader = new Receiver({ isServer: false, skipUTF8Validation: true, binaryType: 'nodebuffer' });
  reader.on('message', (data) => seen.push(`message ${data.toString()}`));
  reader.on('ping', (data) => seen.push(`ping ${data.toString()}`));
  reader.on('conclude', (code, reason) => seen.push(`close ${code} ${reason.toString()}`));
  client.on('data', (chunk: Buffer) => reader.write(chunk));
  return { upstream, client, seen };
}

test('a message split across fragments is scrubbed whole and sent as one frame; control payloads too', async () => {
  const { upstream, client, seen } = relay();
  const half = REAL.length / 2;
  upstream.write(frame(0x1, `{"key":"${REAL.slice(0, half)}`, false));
  upstream.write(frame(0x9, `ping ${REAL}`));
  upstream.write(frame(0x0, `${REAL.slice(half)}"}`, true));
  const close = Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from(`bye ${REAL}`)]);
  upstream.end(frame(0x8, close));
  await new Promise((resolve) => client.once('end', resolve).resume());
  assert.deepEqual(seen, [`ping ping ${STAND_IN}`, `message {"key":"${STAND_IN}"}`, `close 1000 bye ${STAND_IN}`]);
});

test('a frame the parser refuses (masked, from the upstream) closes both sides', async () => {
  const { upstream, client } = relay();
  upstream.write(frame(0x1, REAL, true, true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(upstream.destroyed && client.destroyed);
});
