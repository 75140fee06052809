import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REJECTIONS, ProxyRejection, type RejectionCode } from '../errors.js';
import { REQUEST_ID_HEADER } from './request-id.js';

const CONTENT_TYPE = 'text/plain; charset=utf-8';
const PROXY_AUTHENTICATE = 'Basic realm="credproxy"';

/** OpenSSL / Node codes meaning the upstream's certificate or TLS handshake was not acceptable. */
const TLS_ERROR_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
]);
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** The one-line body the client reads: the code's hint, then the detail if any. */
export function rejectionBody(rejection: ProxyRejection): string {
  const hint = REJECTIONS[rejection.code].hint;
  return rejection.detail ? `${hint} (${rejection.detail})\n` : `${hint}\n`;
}

/**
 * Writes the proxy's own response for a refusal (docs/contract.md#rejections) on an http response, with the
 * request's id. When the response has already started (an upstream error mid-body) the only
 * honest signal left is to cut the connection.
 */
export function writeRejection(res: ServerResponse, rejection: ProxyRejection, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = rejectionBody(rejection);
  res.statusCode = rejection.status;
  res.setHeader('X-Credproxy-Error', 'true');
  res.setHeader('X-Credproxy-Reason', rejection.code);
  res.setHeader(REQUEST_ID_HEADER, requestId);
  res.setHeader('Content-Type', CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // RFC 9110 §15.5.8: every 407 says how to authenticate (sandbox_expired too).
  if (rejection.status === 407) res.setHeader('Proxy-Authenticate', PROXY_AUTHENTICATE);
  res.end(body);
}

/**
 * The same response written as raw bytes on a socket that has no http response object: a
 * refused CONNECT or upgrade, or a request the http parser refused (`status` then says 400,
 * 408 or 431). The connection is closed afterwards.
 */
export function writeRejectionToSocket(socket: Duplex, rejection: ProxyRejection, requestId: string, status = rejection.status): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = rejectionBody(rejection);
  const auth = status === 407 ? `Proxy-Authenticate: ${PROXY_AUTHENTICATE}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `X-Credproxy-Error: true\r\nX-Credproxy-Reason: ${rejection.code}\r\n${REQUEST_ID_HEADER}: ${requestId}\r\n${auth}` +
      `Content-Type: ${CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * An upstream or dial failure as the rejection the client sees. Only the error's code is kept:
 * messages can quote request data.
 */
export function upstreamRejection(err: unknown): ProxyRejection {
  if (err instanceof ProxyRejection) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  return new ProxyRejection(classifyUpstreamError(code), code);
}

function classifyUpstreamError(code: string | undefined): RejectionCode {
  if (code === undefined) return 'upstream_unreachable';
  if (TIMEOUT_CODES.has(code)) return 'upstream_timeout';
  if (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'upstream_tls_error';
  return 'upstream_unreachable';
}
