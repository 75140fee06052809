import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyRejection } from '../errors.js';
import { admit, ConnectionRecord, refuse } from './admission.js';
import { forwardTarget, type ClientConnection, type DataPlane, type ForwardTarget } from './connection.js';
import type { SandboxIdentity } from './policy.js';
import { forwardRequest } from './forward.js';
import { writeRejection, writeRejectionToSocket } from './reject.js';
import { relayUpgrade } from './upgrade.js';

/**
 * An absolute-URI request (`GET http://host/path`): admission runs per request (authenticate →
 * egress policy → resolve and classify, admission.ts), then the request is forwarded as
 * cleartext with `secure: false`, so the policy refuses to inject into it. Each request yields
 * one `connection` event for its host, with the bytes it moved on the client connection.
 */
export function handlePlainRequest(
  plane: DataPlane, connection: ClientConnection, req: IncomingMessage, res: ServerResponse,
): void {
  prepare(plane, req, (refusal) => writeRejection(res, refusal), (to, path, record) => {
    res.once('close', () => emitWithBytes(record, connection));
    forwardRequest(plane, connection, to, req, res, path);
  });
}

/** An absolute-URI Upgrade request (`GET http://host/ws` with `Upgrade: websocket`). */
export function handlePlainUpgrade(
  plane: DataPlane, connection: ClientConnection, req: IncomingMessage, socket: Duplex, head: Buffer,
): void {
  prepare(plane, req, (refusal) => writeRejectionToSocket(socket, refusal), (to, path, record) => {
    socket.once('close', () => emitWithBytes(record, connection));
    relayUpgrade(plane, connection, to, req, socket, head, path);
  });
}

/** The request's connection row, with the bytes it moved on the client connection. */
export function emitWithBytes(record: ConnectionRecord, connection: ClientConnection): void {
  const { sent, recv } = connection.takeBytes();
  record.emit(sent, recv);
}

function prepare(
  plane: DataPlane, req: IncomingMessage, refusal: (rejection: ProxyRejection) => void,
  proceed: (to: ForwardTarget, path: string, record: ConnectionRecord) => void,
): void {
  const url = parseAbsoluteHttp(req.url ?? '');
  const record = new ConnectionRecord(plane, url?.host ?? '', url?.port ?? 0);
  if (url === undefined) {
    const rejection = new ProxyRejection('bad_request', 'send absolute http:// URLs, or CONNECT for https');
    refuse(plane, 'absolute-uri', record, rejection);
    refusal(rejection);
    return;
  }
  const identify = (): SandboxIdentity | null => plane.policy.authenticate(req.headers['proxy-authorization']);
  admit(plane, 'absolute-uri', record, identify, url.host, url.port).then(({ identity, egress }) => {
    proceed(forwardTarget(identity, url.host, url.port, false, egress.ip), url.path, record);
  }, (rejection: ProxyRejection) => {
    record.emit(0, 0);
    refusal(rejection);
  });
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
