import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ProxyRejection } from '../errors.js';
import { admit, ConnectionRecord, refuse, type Identify } from './admission.js';
import { MAX_HELLO_RECORD, peekServerName, type HelloPeek } from './client-hello.js';
import { forwardTarget, type ClientConnection, type DataPlane } from './connection.js';
import { canonicalIp } from './address-class.js';
import type { PlainEntry, PlainTarget } from './plain.js';
import { tunnelLogger } from './access-log.js';
import { parseAuthority, terminateTls } from './tunnel.js';

/**
 * Transparent mode: connections the kernel redirected to credproxy (iptables REDIRECT, `credproxy
 * iptables`), from clients that know nothing of a proxy. No Proxy-Authorization: the sandbox is
 * the listener's `transparent.sandbox`, or the one whose `source_addresses` holds the source.
 */
function identifyConnection(plane: DataPlane, connection: ClientConnection): Identify {
  const source = connection.raw.remoteAddress;
  return () => plane.policy.identifyTransparent(plane.config.transparent.sandbox, source === undefined ? undefined : canonicalIp(source));
}

/**
 * A redirected TLS connection: peek the ClientHello for SNI → admission for that host on the
 * original destination's port (identify → egress policy → resolve and classify, the same stage as
 * CONNECT) → terminate TLS with a leaf for the host → the inner http server serves its requests,
 * dialling the upstream by name. Without SNI the host is the original destination's IP (as a
 * CONNECT to an IP literal); with neither the connection is closed. A refused connection still
 * completes its handshake, so that every request on it is answered with the refusal's code.
 */
export function acceptTransparentTls(plane: DataPlane, inner: Server, connection: ClientConnection, register: (tls: TLSSocket) => void): void {
  const socket = connection.raw;
  const original = connection.originalDestination;
  socket.on('error', () => socket.destroy());
  const record = new ConnectionRecord(plane, '', original?.port ?? 443, true);
  record.dstIp = original?.address;
  connection.record = record;
  let established = false;
  socket.once('close', () => {
    if (established) plane.events.emit('tunnel', -1);
    record.emit(socket.bytesRead, socket.bytesWritten);
  });

  readClientHello(socket, plane.config.proxy.handshakeTimeoutMs, (peek) => {
    if (peek.kind === 'not-tls') {
      const rejection = new ProxyRejection('bad_request', 'this port takes TLS (connections redirected from port 443)');
      refuse(plane, 'transparent-tls', record, rejection);
      record.answer(rejection, { socket }, '', '');
      return;
    }
    const host = peek.serverName ?? original?.address;
    if (host === undefined) {
      // Nothing to mint a certificate for, nothing to dial: a TLS client could not even read a refusal.
      refuse(plane, 'transparent-tls', record, new ProxyRejection('bad_request', 'a TLS connection without SNI whose original destination is unknown'));
      socket.destroy();
      return;
    }
    record.host = host;
    const port = record.dstPort;
    admit(plane, 'transparent-tls', record, identifyConnection(plane, connection), host, port)
      .then(
        ({ identity, egress }) => {
          if (port !== 80) plane.upstream.preconnect(host, port);
          connection.tunnel = forwardTarget(identity, host, port, true, egress.ip);
          if (plane.accessLog !== undefined) connection.log = tunnelLogger(plane.accessLog, record.id, identity, host);
        },
        (rejection: ProxyRejection) => {
          connection.refusal = rejection;
        },
      )
      .then(async () => {
        const context = plane.certs.secureContextFor(host);
        const secureContext = context instanceof Promise ? await context : context;
        if (socket.destroyed) return;
        if (connection.tunnel !== undefined) {
          established = true;
          plane.events.emit('tunnel', 1);
        }
        terminateTls(plane, inner, socket, secureContext, register, record);
      })
      .catch(() => socket.destroy());
  });
}

/**
 * Buffers the connection's first bytes until the first TLS record is whole (or they are not TLS),
 * then puts them back unread and pauses the socket. A client silent for `timeoutMs` is closed.
 */
function readClientHello(socket: Socket, timeoutMs: number, then: (peek: Exclude<HelloPeek, { kind: 'partial' }>) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const peek = peekServerName(buffered);
    if (peek.kind === 'partial' && buffered.length < MAX_HELLO_RECORD) return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.pause();
    socket.unshift(buffered);
    then(peek.kind === 'partial' ? { kind: 'not-tls' } : peek);
  };
  socket.on('data', onData);
  socket.once('close', () => clearTimeout(timer));
}

/**
 * A redirected plain-http request (origin-form): the host is the Host header's, the port the
 * original destination's (else Host's, else 80). Admitted per request like an absolute-URI one,
 * and never injected into (cleartext).
 */
export const TRANSPARENT_HTTP: PlainEntry = {
  entry: 'transparent-http',
  target: hostHeaderTarget,
  badTarget: 'send an origin-form request with a Host header',
  identify: (plane, _req, connection) => identifyConnection(plane, connection),
};

function hostHeaderTarget(req: IncomingMessage, connection: ClientConnection): PlainTarget | undefined {
  const url = req.url;
  const host = req.headers.host;
  if (url === undefined || url.charCodeAt(0) !== 47 /* / */ || host === undefined) return undefined;
  const withPort = /:\d+$/.test(host) ? host : `${host}:80`;
  const authority = parseAuthority(withPort);
  if (authority === undefined) return undefined;
  return { host: authority.host, port: connection.originalDestination?.port ?? authority.port, path: url };
}
