import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProxyRejection } from '../errors.js';
import type { ClientConnection, DataPlane, ForwardTarget } from './connection.js';
import { forwardHeaders } from './headers.js';
import type { CredentialMatch, EchoScrubber } from './policy.js';
import { upstreamRejection, writeRejectionToSocket } from './reject.js';

/**
 * A WebSocket (or other Upgrade) handshake: authorize and inject into the upgrade request, dial
 * the upstream through the egress-checked dialer, write the request, then relay bytes both ways.
 * The upstream's answer (101 or a refusal) reaches the client unchanged.
 */
export function relayUpgrade(
  plane: DataPlane, connection: ClientConnection, to: ForwardTarget,
  req: IncomingMessage, client: Duplex, head: Buffer, path: string,
): void {
  const ts = Date.now();
  const started = performance.now();
  let matches: readonly CredentialMatch[] = [];
  let scrubber: EchoScrubber | undefined;
  let status = 0;
  let upstreamStatus: number | undefined;
  let rejection: ProxyRejection | undefined;
  connection.active++;
  client.on('error', () => client.destroy());

  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    if (rejection) {
      plane.logger.info({ code: rejection.code, host: to.target.host, sandbox: to.identity?.sandboxId }, 'upgrade rejected');
    }
    const query = path.indexOf('?');
    plane.events.emit('request', {
      ts, sandboxId: to.identity?.sandboxId, sandboxName: to.identity?.sandboxName, matches,
      method: req.method ?? 'GET', host: to.target.host, path: query === -1 ? path : path.slice(0, query),
      status, upstreamStatus, latencyMs: performance.now() - started, upstreamMs: undefined,
      errorCode: rejection?.code,
      outcome: rejection ? 'rejected' : status === 0 ? 'client_aborted' : matches.length > 0 ? 'injected' : 'forwarded',
      refusedSecretIds: rejection?.secretIds ?? [],
    });
    connection.active--;
    plane.requestEnded(connection);
  };
  const refuse = (refusal: ProxyRejection): void => {
    rejection = refusal;
    status = refusal.status;
    writeRejectionToSocket(client, refusal);
    end();
  };

  try {
    ({ matches, scrubber } = plane.policy.authorizeRequest(to.identity, to.target, req.headers));
  } catch (err) {
    refuse(err instanceof ProxyRejection ? err : new ProxyRejection('inject_error'));
    return;
  }
  const lines = forwardHeaders(req.headers, to.authority, true);
  let text = `${req.method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < lines.length; i += 2) {
    // Compressed frames would hide an echoed value from the scrubber, so none are offered.
    if (scrubber && lines[i] === 'sec-websocket-extensions') continue;
    text += `${lines[i]}: ${lines[i + 1]}\r\n`;
  }
  text += '\r\n';

  plane.upstream.dial(to.target.host, to.target.port, to.target.secure).then((upstream: Socket) => {
    if (client.destroyed) {
      upstream.destroy();
      end();
      return;
    }
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      client.destroy();
      end();
    });
    upstream.once('data', (first: Buffer) => {
      // "HTTP/1.1 101 …": the status is the three digits after the first space.
      upstreamStatus = Number(first.toString('latin1', 9, 12)) || undefined;
      status = upstreamStatus ?? 0;
    });
    upstream.write(text);
    if (head.length > 0) upstream.write(head);
    // An upstream may echo the injected value (in its head or a frame): masked at equal length.
    (scrubber ? upstream.pipe(scrubber.maskTransform()) : upstream).pipe(client);
    client.pipe(upstream);
  }, (err: unknown) => refuse(upstreamRejection(err)));
}
