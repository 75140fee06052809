import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { ProxyRejection } from '../errors.js';
import { tunnelLogger } from './access-log.js';
import { canonicalHost } from './address-class.js';
import { admit, ConnectionRecord, refuse } from './admission.js';
import { classifyClientTlsError } from './client-tls.js';
import { forwardTarget, type ClientConnection, type DataPlane } from './connection.js';
import type { SandboxIdentity } from './policy.js';
import { REQUEST_ID_HEADER } from './request-id.js';

const ESTABLISHED = `HTTP/1.1 200 Connection Established\r\n${REQUEST_ID_HEADER}: `;
const ALPN = ['http/1.1'];
const BAD_HOST_CHARS = /[\s/?#@]/;

/**
 * `CONNECT host:port`: admission (authenticate → egress policy → resolve and classify, in
 * admission.ts) → 200 → terminate TLS on the same socket with a leaf for the SNI name (or the
 * CONNECT host) → hand the TLS socket to the inner http server, whose requests find this tunnel through `connection.tunnel`.
 * A refusal is written before the 200, and yields a `connection` event with verdict `blocked`.
 */
export function openTunnel(
  plane: DataPlane,
  inner: Server,
  connection: ClientConnection,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  register: (tls: TLSSocket) => void,
): void {
  const authority = parseAuthority(req.url ?? '');
  const record = new ConnectionRecord(plane, authority?.host ?? '', authority?.port ?? 0, true);
  connection.record = record;
  socket.on('error', () => socket.destroy());
  let established = false;
  socket.once('close', () => {
    if (established) plane.events.emit('tunnel', -1);
    record.emit(socket.bytesRead, socket.bytesWritten);
  });

  if (authority === undefined) {
    const rejection = new ProxyRejection('bad_request', 'CONNECT needs host:port');
    refuse(plane, 'connect', record, rejection);
    record.answer(rejection, { socket }, 'CONNECT', '');
    return;
  }
  // Read here, not in the closure: a closure naming `req` would keep the CONNECT request (its
  // headers, its state) alive as long as the tunnel, since every closure here shares one scope.
  const proxyAuthorization = req.headers['proxy-authorization'];
  const identify = (): SandboxIdentity | null => plane.policy.authenticate(proxyAuthorization);
  admit(plane, 'connect', record, identify, authority.host, authority.port)
    .then(async ({ identity, egress }) => {
      if (socket.destroyed) return;
      // Tunnels almost always carry TLS to a TLS upstream: its handshake can run during the mint and the client's.
      if (authority.port !== 80) plane.upstream.preconnect(authority.host, authority.port);
      const context = plane.certs.secureContextFor(authority.host);
      const secureContext = context instanceof Promise ? await context : context;
      if (socket.destroyed) return;
      established = true;
      plane.events.emit('tunnel', 1);
      socket.write(`${ESTABLISHED}${record.id}\r\n\r\n`);
      firstByte(socket, head, plane.config.proxy.handshakeTimeoutMs, (byte) => {
        // Most clients speak TLS in the tunnel; some (undici for http:// URLs) send plain HTTP.
        // Plain tunnels are served too, but the policy never injects into them (secure: false).
        const secure = byte === TLS_HANDSHAKE;
        connection.tunnel = forwardTarget(identity, authority.host, authority.port, secure, egress.ip);
        if (plane.accessLog !== undefined) connection.log = tunnelLogger(plane.accessLog, record.id, identity, authority.host);
        if (!secure) {
          inner.emit('connection', socket);
          socket.resume(); // replays the sniffed bytes into the http parser
          return;
        }
        terminateTls(plane, inner, socket, secureContext, register, record);
      });
    })
    .catch((err: unknown) => {
      // Admission recorded its own refusals; anything else (a failed mint) is recorded here.
      let rejection = err;
      if (!(rejection instanceof ProxyRejection)) refuse(plane, 'connect', record, (rejection = new ProxyRejection('bad_request')));
      record.answer(rejection as ProxyRejection, { socket }, 'CONNECT', '');
    });
}

/** TLS records start with content type 22 (handshake). */
const TLS_HANDSHAKE = 0x16;

/** Waits for the tunnel's first byte without consuming it; a silent client is closed after `timeoutMs`. */
export function firstByte(socket: Socket, head: Buffer, timeoutMs: number, then: (byte: number) => void): void {
  if (head.length > 0) {
    socket.unshift(head);
    then(head[0]!);
    return;
  }
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onClose = (): void => clearTimeout(timer);
  socket.once('data', (chunk: Buffer) => {
    clearTimeout(timer);
    // Not kept for the tunnel's lifetime, nor the timer it holds.
    socket.off('close', onClose);
    socket.pause();
    socket.unshift(chunk);
    then(chunk[0]!);
  });
  socket.once('close', onClose);
}

/**
 * Terminates the client's TLS on `socket` and hands the TLS socket to the inner http server. A
 * handshake that fails (refused certificate, timeout, hang-up, protocol) is recorded on `record`
 * with its cause (client-tls.ts).
 */
export function terminateTls(
  plane: DataPlane,
  inner: Server,
  socket: Socket,
  secureContext: SecureContext,
  register: (tls: TLSSocket) => void,
  record: ConnectionRecord,
): void {
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext,
    SNICallback: plane.certs.sniCallback,
    ALPNProtocols: ALPN,
  });
  let secure = false;
  let failed = false;
  const fail = (err: NodeJS.ErrnoException | undefined): void => {
    if (secure || failed) return;
    failed = true;
    record.clientTlsFailed(classifyClientTlsError(err), err?.code);
  };
  const timer = setTimeout(() => {
    fail(HANDSHAKE_TIMEOUT);
    tls.destroy();
  }, plane.config.proxy.handshakeTimeoutMs);
  tls.once('secure', () => {
    secure = true;
    clearTimeout(timer);
  });
  tls.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    fail(err);
    tls.destroy();
  });
  // Closed before the handshake ended, without an alert or an error. The client's socket may
  // close before the TLS layer says so: this runs ahead of the entry point's row on that close.
  socket.prependOnceListener('close', () => fail(undefined));
  tls.once('close', () => {
    clearTimeout(timer);
    fail(undefined);
    socket.destroy();
  });
  register(tls);
  inner.emit('connection', tls);
}

const HANDSHAKE_TIMEOUT = Object.assign(new Error('client TLS handshake timed out'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });

/** `host:port` or `[v6]:port` → the canonical host (canonicalHost) and a port; undefined if malformed. */
export function parseAuthority(text: string): { host: string; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  let host = text.slice(0, colon).toLowerCase();
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return undefined;
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    return undefined;
  }
  if (host.length === 0 || host.length > 253 || BAD_HOST_CHARS.test(host)) return undefined;
  const canonical = canonicalHost(host);
  return canonical === undefined ? undefined : { host: canonical, port };
}
