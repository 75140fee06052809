import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyRejection } from '../errors.js';
import type { ClientConnection, DataPlane, ForwardTarget } from './connection.js';
import type { ConnectionEvent } from './events.js';
import type { SandboxIdentity } from './policy.js';
import { forwardRequest } from './forward.js';
import { authorityFor } from './headers.js';
import { writeRejection, writeRejectionToSocket } from './reject.js';
import { relayUpgrade } from './upgrade.js';

/**
 * An absolute-URI request (`GET http://host/path`): the CONNECT stages run per request
 * (authenticate → egress policy → resolve and classify), then the request is forwarded as
 * cleartext with `secure: false`, so the policy refuses to inject into it. Each request yields
 * one `connection` event for its host, with the bytes it moved on the client connection.
 */
export function handlePlainRequest(
  plane: DataPlane, connection: ClientConnection, req: IncomingMessage, res: ServerResponse,
): void {
  prepare(plane, req, (refusal) => writeRejection(res, refusal), (to, path, record) => {
    res.once('close', () => record(connection.takeBytes()));
    forwardRequest(plane, connection, to, req, res, path);
  });
}

/** An absolute-URI Upgrade request (`GET http://host/ws` with `Upgrade: websocket`). */
export function handlePlainUpgrade(
  plane: DataPlane, connection: ClientConnection, req: IncomingMessage, socket: Duplex, head: Buffer,
): void {
  prepare(plane, req, (refusal) => writeRejectionToSocket(socket, refusal), (to, path, record) => {
    socket.once('close', () => record(connection.takeBytes()));
    relayUpgrade(plane, connection, to, req, socket, head, path);
  });
}

type RecordConnection = (bytes: { sent: number; recv: number }) => void;

function prepare(
  plane: DataPlane, req: IncomingMessage, refuse: (rejection: ProxyRejection) => void,
  proceed: (to: ForwardTarget, path: string, record: RecordConnection) => void,
): void {
  const ts = Date.now();
  const url = parseAbsoluteHttp(req.url ?? '');
  if (url === undefined) {
    refuse(new ProxyRejection('bad_request', 'send absolute http:// URLs, or CONNECT for https'));
    return;
  }
  let identity: SandboxIdentity | null = null;
  const emit = (verdict: ConnectionEvent['verdict'], matchRule: string, ip: string | undefined, sent: number, recv: number, code?: ConnectionEvent['errorCode']): void => {
    plane.events.emit('connection', {
      ts, sandboxId: identity?.sandboxId, sandboxName: identity?.sandboxName, host: url.host, dstIp: ip,
      dstPort: url.port, verdict, matchRule, bytesSent: sent, bytesRecv: recv, errorCode: code,
    });
  };
  const fail = (err: unknown): void => {
    const rejection = err instanceof ProxyRejection ? err : new ProxyRejection('bad_request');
    plane.logger.info({ code: rejection.code, host: url.host, sandbox: identity?.sandboxId }, 'request rejected');
    emit(rejection.code === 'upstream_unreachable' ? 'failed' : 'blocked', rejection.detail ?? rejection.code, undefined, 0, 0, rejection.code);
    refuse(rejection);
  };
  try {
    identity = plane.policy.authenticate(req.headers['proxy-authorization']);
    plane.policy.checkEgress(identity, url.host);
  } catch (err) {
    fail(err);
    return;
  }
  const sandbox = identity;
  plane.guard.check(url.host, url.port).then((approved) => {
    const authority = authorityFor(url.host, url.port, false);
    const to: ForwardTarget = {
      identity: sandbox, target: { host: url.host, port: url.port, secure: false },
      authority, origin: `http://${authority}`, ip: approved.ip,
    };
    proceed(to, url.path, ({ sent, recv }) => emit('allowed', approved.reason, approved.ip, sent, recv));
  }, fail);
}

/** `http://host[:port]/path?q` → parts; undefined for anything else (origin-form, https://, junk). */
function parseAbsoluteHttp(text: string): { host: string; port: number; path: string } | undefined {
  if (!text.startsWith('http://')) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') return undefined;
  return { host, port: url.port === '' ? 80 : Number(url.port), path: `${url.pathname}${url.search}` };
}
