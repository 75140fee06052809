import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyRejection } from '../errors.js';
import { canonicalHost } from './address-class.js';
import { admit, ConnectionRecord, refuse, type EntryPoint, type Identify } from './admission.js';
import { forwardTarget, type ClientConnection, type DataPlane, type ForwardTarget } from './connection.js';
import { forwardRequest } from './forward.js';
import { relayUpgrade } from './upgrade.js';

/** Where a plain-http request goes, as its entry point reads it from the request. */
export interface PlainTarget {
  readonly host: string;
  readonly port: number;
  /** Origin-form request-target sent upstream. */
  readonly path: string;
}

/**
 * An entry point for plain-http requests, each admitted on its own: the explicit proxy's
 * absolute-URI requests here, the transparent http listener's origin-form ones in transparent.ts.
 */
export interface PlainEntry {
  readonly entry: EntryPoint;
  /** The request's target; undefined when the request does not name one the entry accepts. */
  target(req: IncomingMessage, connection: ClientConnection): PlainTarget | undefined;
  /** What to tell a client whose request names no usable target. */
  readonly badTarget: string;
  identify(plane: DataPlane, req: IncomingMessage, connection: ClientConnection): Identify;
}

/** `GET http://host/path` sent to the proxy listener, identified by Proxy-Authorization. */
export const ABSOLUTE_URI: PlainEntry = {
  entry: 'absolute-uri',
  target: (req) => parseAbsoluteHttp(req.url ?? ''),
  badTarget: 'send absolute http:// URLs, or CONNECT for https',
  identify: (plane, req) => () => plane.policy.authenticate(req.headers['proxy-authorization']),
};

/**
 * A plain-http request: admission runs per request (identify → egress policy → resolve and
 * classify, admission.ts), then the request is forwarded as cleartext with `secure: false`, so
 * the policy refuses to inject into it. Each request yields one `connection` event for its host,
 * with the bytes it moved on the client connection.
 */
export function handlePlainRequest(plane: DataPlane, entry: PlainEntry, connection: ClientConnection, req: IncomingMessage, res: ServerResponse): void {
  prepare(plane, entry, connection, req, { res }, (to, path, record) => {
    res.once('close', () => emitWithBytes(record, connection));
    forwardRequest(plane, connection, to, req, res, path, undefined, record.id);
  });
}

/** A plain-http Upgrade request (`GET http://host/ws` with `Upgrade: websocket`). */
export function handlePlainUpgrade(
  plane: DataPlane,
  entry: PlainEntry,
  connection: ClientConnection,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  prepare(plane, entry, connection, req, { socket }, (to, path, record) => {
    socket.once('close', () => emitWithBytes(record, connection));
    relayUpgrade(plane, connection, to, req, socket, head, path, record.id);
  });
}

/** The request's connection row, with the bytes it moved on the client connection. */
function emitWithBytes(record: ConnectionRecord, connection: ClientConnection): void {
  const { sent, recv } = connection.takeBytes();
  record.emit(sent, recv);
}

/**
 * Admission for one plain request; a refusal is answered on `to` under the request's id, which
 * its connection row and, when admitted, its request row share.
 */
function prepare(
  plane: DataPlane,
  entry: PlainEntry,
  connection: ClientConnection,
  req: IncomingMessage,
  to: { res: ServerResponse } | { socket: Duplex },
  proceed: (to: ForwardTarget, path: string, record: ConnectionRecord) => void,
): void {
  const target = entry.target(req, connection);
  const record = new ConnectionRecord(plane, target?.host ?? '', target?.port ?? 0);
  const method = req.method ?? '';
  if (target === undefined) {
    const rejection = new ProxyRejection('bad_request', entry.badTarget);
    refuse(plane, entry.entry, record, rejection);
    record.answer(rejection, to, method, '');
    return;
  }
  record.dstIp = connection.originalDestination?.address;
  admit(plane, entry.entry, record, entry.identify(plane, req, connection), target.host, target.port).then(
    ({ identity, egress }) => {
      proceed(forwardTarget(identity, target.host, target.port, false, egress.ip), target.path, record);
    },
    (rejection: ProxyRejection) => {
      record.emit(0, 0);
      record.answer(rejection, to, method, target.path);
    },
  );
}

/** `http://host[:port]/path?q` → parts; undefined for anything else (origin-form, https://, junk). */
function parseAbsoluteHttp(text: string): PlainTarget | undefined {
  if (!text.startsWith('http://')) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  // The URL parser already reads numeric IPv4 spellings; canonicalHost also maps ::ffff:a.b.c.d.
  const host = canonicalHost(url.hostname);
  if (host === undefined || host === '') return undefined;
  return { host, port: url.port === '' ? 80 : Number(url.port), path: `${url.pathname}${url.search}` };
}
