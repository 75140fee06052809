import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { relayScrubbedFrames } from '../response/index.js';
import type { ClientConnection, DataPlane, ForwardTarget } from './connection.js';
import { forwardRequest } from './forward.js';
import type { ResponseHeaders } from './headers.js';
import type { EchoScrubber } from './policy.js';

/**
 * An Upgrade request (WebSocket). Node's http server hands over the raw socket after the request
 * head; until the upstream switches protocols the exchange is still HTTP, so a ServerResponse is
 * put over that socket and the request takes the ordinary forward path: injection, forced
 * Accept-Encoding, decoding, scrubbing. Only undici's report of a real `101` switches to the
 * byte relay below. The server no longer parses this socket, so a non-101 answer closes it.
 */
export function relayUpgrade(
  plane: DataPlane,
  connection: ClientConnection,
  to: ForwardTarget,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  path: string,
  requestId?: string,
): void {
  // The server removed its own error listener when it handed the socket over.
  client.on('error', () => client.destroy());
  const socket = client as Socket;
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  try {
    res.assignSocket(socket);
  } catch {
    // A response still being written on this connection (a pipelined request): nothing can follow it.
    client.destroy();
    return;
  }
  res.once('finish', () => socket.destroySoon());
  forwardRequest(
    plane,
    connection,
    to,
    req,
    res,
    path,
    {
      switched(headers, upstream, scrubber, done) {
        res.detachSocket(socket);
        relaySwitched(client, head, headers, upstream, scrubber, plane.config.proxy.maxBodyBytes, done);
      },
    },
    requestId,
  );
}

/**
 * After the upstream's `101`: its head to the client, the client's early bytes to the upstream,
 * then bytes both ways. An injected request's upstream side is WebSocket (nothing else is asked
 * for then) and is scrubbed message by message, a message at most `maxMessage` bytes; the
 * client's side is not (it never carries a real value).
 */
function relaySwitched(
  client: Duplex,
  head: Buffer,
  headers: ResponseHeaders,
  upstream: Duplex,
  scrubber: EchoScrubber | undefined,
  maxMessage: number,
  done: () => void,
): void {
  upstream.on('error', () => upstream.destroy());
  let open = 2;
  const closed = (): void => {
    if (--open === 0) done();
  };
  client.once('close', () => {
    upstream.destroy();
    closed();
  });
  upstream.once('close', () => {
    client.destroy();
    closed();
  });
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  client.write(switchingHead(headers));
  if (head.length > 0) upstream.write(head);
  if (scrubber) relayScrubbedFrames(upstream, client, (payload) => scrubber.scrubMessage(payload), maxMessage);
  else upstream.pipe(client);
  client.pipe(upstream);
}

/** `HTTP/1.1 101` with the upstream's headers, and the Connection / Upgrade pair it switched with. */
function switchingHead(headers: ResponseHeaders): string {
  let text = `HTTP/1.1 101 ${STATUS_CODES[101]}\r\nconnection: Upgrade\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) text += `${name}: ${item}\r\n`;
  }
  return `${text}\r\n`;
}
