import type { ClientTlsFailure } from './events.js';

/**
 * Alerts a client sends when it does not accept the proxy's certificate: unknown_ca (48, curl,
 * Python, OpenSSL clients), bad_certificate (42, Go) and
 * certificate_unknown (46, Java). All mean the sandbox does not trust credproxy's CA.
 */
const REFUSED_CERTIFICATE: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
]);
/** No version, cipher or ALPN protocol in common, or not TLS at all (plain http sent to a TLS port). */
const PROTOCOL: ReadonlySet<string> = new Set([
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_NO_SHARED_CIPHER',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_NO_APPLICATION_PROTOCOL',
  'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
]);
/** The client went away mid-handshake. */
const CLOSED: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ERR_SSL_UNEXPECTED_EOF_WHILE_READING']);

/**
 * The cause of a failed client handshake, from the error Node reported (undefined: the socket
 * closed with none, as Node's clients do when they refuse a certificate: they verify after the
 * handshake and hang up without an alert).
 */
export function classifyClientTlsError(err: NodeJS.ErrnoException | undefined): ClientTlsFailure {
  const code = err?.code;
  if (code === undefined || CLOSED.has(code)) return 'closed';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (REFUSED_CERTIFICATE.has(code)) return 'unknown_ca';
  if (PROTOCOL.has(code)) return 'protocol';
  return 'other';
}
