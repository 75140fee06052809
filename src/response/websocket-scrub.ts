import type { Duplex } from 'node:stream';
import { Receiver, Sender } from './ws-frames.js';

const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;
/** RFC 6455 §5.5: a control frame's payload is at most 125 bytes. */
const MAX_CONTROL_PAYLOAD = 125;
/** A close frame without a status code (ws reports it as 1005, which is never sent). */
const NO_STATUS = 1005;

/**
 * The upstream's side of an upgraded WebSocket whose handshake carried an injected credential:
 * ws's Receiver parses the frames and reassembles fragmented messages, each complete message
 * (and each ping, pong and close payload) is scrubbed whole and sent to the client as one
 * unmasked frame at once. A value split across fragments is therefore caught, and no complete
 * frame waits for more bytes. Frames the parser refuses (compressed ones: no extension was
 * offered; masked ones; a message over `maxPayload`) close both sides.
 */
export function relayScrubbedFrames(upstream: Duplex, client: Duplex, scrub: (payload: Buffer) => Buffer, maxPayload: number): void {
  const receiver = new Receiver({ isServer: false, skipUTF8Validation: true, maxPayload, binaryType: 'nodebuffer' });
  let concluded = false;
  const send = (opcode: number, payload: Buffer): void => {
    const frame = Sender.frame(payload, { fin: true, opcode, mask: false, readOnly: false, rsv1: false });
    if (!client.write(frame.length === 1 ? frame[0] : Buffer.concat(frame))) upstream.pause();
  };
  const control =
    (opcode: number) =>
    (payload: Buffer): void => {
      // A stand-in longer than the value it replaces could push a control payload past its limit.
      send(opcode, scrub(payload).subarray(0, MAX_CONTROL_PAYLOAD));
    };
  receiver.on('message', (data, isBinary) => send(isBinary ? BINARY : TEXT, scrub(data)));
  receiver.on('ping', control(PING));
  receiver.on('pong', control(PONG));
  receiver.on('conclude', (code, reason) => {
    concluded = true;
    const payload = code === NO_STATUS ? Buffer.alloc(0) : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), scrub(reason)]);
    send(CLOSE, payload.subarray(0, MAX_CONTROL_PAYLOAD));
  });
  receiver.on('error', () => {
    upstream.destroy();
    client.destroy();
  });
  client.on('drain', () => upstream.resume());
  // Nothing may follow a close frame (RFC 6455 §5.5.1); the parser has ended by then.
  upstream.on('data', (chunk: Buffer) => {
    if (!concluded) receiver.write(chunk);
  });
  upstream.once('end', () => client.end());
}
